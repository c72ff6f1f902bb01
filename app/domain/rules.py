"""Validation rules for names and texts, shared by HTTP accounts and socket events."""

import re
import unicodedata

# ipfy-homoglyph's UTS #39 skeleton (Unicode 17 confusables data): the pure-Python one that
# keeps multi-character prototypes such as m -> rn
from homoglyph._skeleton import skeleton as uts39_skeleton

from .errors import FORBIDDEN, INVALID, TOO_LARGE, ChatError

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256
PUBLIC_ROOM_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
# Private rooms (direct messages, stranger pairs) carry a ":" that public names cannot,
# so the two namespaces never collide.
PRIVATE_ROOM_RE = re.compile(r"^(dm|pair):[a-z0-9_.:-]{1,64}$")
MAX_TEXT_LENGTH = 4000
MAX_CLIENT_ID_LENGTH = 64
MAX_REPORT_REASON_LENGTH = 1000
# Stranger chat shows users as `stranger-` + 4 hex digits (app/domain/aliases.py): no account
# may be named like one, in any case, or it could pass for a stranger.
RESERVED_USERNAME_PREFIX = "stranger-"


def check_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username):
        raise ChatError(
            INVALID, "Usernames are 3-32 characters: letters, digits, '_', '-' and '.'."
        )
    return username


def check_new_username(username: str) -> str:
    """A name a new account may take: a valid username not written like a stranger alias."""
    check_username(username)
    if username.lower().startswith(RESERVED_USERNAME_PREFIX):
        raise ChatError(
            INVALID, "Usernames cannot start with 'stranger-': stranger chat uses such names."
        )
    return username


def username_key(username: str) -> str:
    """The form usernames are compared in: unique ignoring case."""
    return username.casefold()


def username_skeleton(username: str) -> str:
    """What a name looks like, ignoring case: two names with one skeleton are lookalikes.

    The UTS #39 skeleton of the capitals, case-folded, then the skeleton of that: the first pass
    sees "I" (-> l), the second sees the small letters ("m" -> "rn"). So aIice, al1ce, ALICE and
    alice share a skeleton (i, l, I and 1 are one vertical stroke), and so do rnallory and
    mallory. At most twice the name's length ("m" is two characters).
    """
    return uts39_skeleton(uts39_skeleton(username.upper()).casefold())


def check_password(password: str) -> str:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ChatError(INVALID, f"Passwords need at least {PASSWORD_MIN_LENGTH} characters.")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise ChatError(INVALID, f"Passwords are at most {PASSWORD_MAX_LENGTH} characters.")
    return password


def is_private_room_name(name: str) -> bool:
    return PRIVATE_ROOM_RE.fullmatch(name) is not None


def check_room_name(name: str) -> str:
    """A public or private room name, else `invalid`."""
    if PUBLIC_ROOM_RE.fullmatch(name) or PRIVATE_ROOM_RE.fullmatch(name):
        return name
    raise ChatError(
        INVALID, "Room names are 1-64 characters: lowercase letters, digits, '-' and '_'."
    )


def check_text(text: str) -> str:
    """Trimmed message text of 1-4000 characters that every database can store."""
    text = text.strip()
    if not text:
        raise ChatError(INVALID, "Message text is empty.")
    if len(text) > MAX_TEXT_LENGTH:
        raise ChatError(TOO_LARGE, f"Messages are at most {MAX_TEXT_LENGTH} characters.")
    if "\x00" in text:
        raise ChatError(INVALID, "Message text contains a NUL character.")
    if not _is_utf8(text):
        raise ChatError(INVALID, "Message text is not valid Unicode (lone surrogate).")
    return text


MAX_EMOJI_LENGTH = 32
# Bidi controls: marks, embeddings and overrides, isolates (a reaction must not flip a name)
BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def check_emoji(emoji: str) -> str:
    """A reaction: 1-32 characters (code points) with no whitespace, control characters,
    lone surrogates or bidi controls; any other string (an emoji, a ZWJ sequence, `+1`)."""
    if not 1 <= len(emoji) <= MAX_EMOJI_LENGTH:
        raise ChatError(INVALID, f"A reaction is 1-{MAX_EMOJI_LENGTH} characters.")
    for char in emoji:
        if char.isspace() or char in BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs"):
            raise ChatError(
                INVALID,
                "A reaction has no whitespace, control characters, bidi controls or lone "
                "surrogates.",
            )
    return emoji


def check_report_reason(reason: str) -> str:
    """A report's reason: 1-1000 characters after trimming, storable by every database."""
    reason = reason.strip()
    if not reason:
        raise ChatError(INVALID, "Say why you are reporting (the reason is empty).")
    if len(reason) > MAX_REPORT_REASON_LENGTH:
        raise ChatError(INVALID, f"A reason is at most {MAX_REPORT_REASON_LENGTH} characters.")
    if "\x00" in reason or not _is_utf8(reason):
        raise ChatError(INVALID, "The reason contains a NUL character or a lone surrogate.")
    return reason


def check_client_id(client_id: str | None) -> str | None:
    """1-64 characters, storable by every database: no control characters (NUL!), no lone
    surrogates."""
    if client_id is None:
        return None
    if not 1 <= len(client_id) <= MAX_CLIENT_ID_LENGTH:
        raise ChatError(INVALID, f"client_id is 1-{MAX_CLIENT_ID_LENGTH} characters.")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in client_id):
        raise ChatError(INVALID, "client_id must not contain control characters (a UUID is ideal).")
    return client_id


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def forbidden_room() -> ChatError:
    # One answer for "missing" and "not yours" so outsiders learn nothing about private rooms.
    return ChatError(FORBIDDEN, "You are not a member of this private room.")


def blocked() -> ChatError:
    """The refusal of a DM (opening, joining, speaking) between users where one blocked the
    other."""
    return ChatError(FORBIDDEN, "One of you has blocked the other.")


MAX_TOPIC_LENGTH = 200
MAX_REASON_LENGTH = 500
MAX_SANCTION_MINUTES = 525600  # a year


def check_topic(topic: str) -> str:
    """A room topic: trimmed, 0-200 characters, no control characters."""
    topic = topic.strip()
    if len(topic) > MAX_TOPIC_LENGTH:
        raise ChatError(INVALID, f"Topics are at most {MAX_TOPIC_LENGTH} characters.")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in topic):
        raise ChatError(INVALID, "Topics must not contain control characters.")
    return topic


def check_reason(reason: str | None) -> str | None:
    """A moderation reason: trimmed, 0-500 characters (empty counts as none)."""
    if reason is None:
        return None
    reason = reason.strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise ChatError(INVALID, f"Reasons are at most {MAX_REASON_LENGTH} characters.")
    if "\x00" in reason or not _is_utf8(reason):
        raise ChatError(INVALID, "The reason contains a NUL character or a lone surrogate.")
    return reason or None


def check_minutes(minutes: int | None) -> int | None:
    """How long a ban or mute lasts: 1-525600 minutes (a year), or None."""
    if minutes is not None and not 1 <= minutes <= MAX_SANCTION_MINUTES:
        raise ChatError(INVALID, f"minutes is 1-{MAX_SANCTION_MINUTES}.")
    return minutes
