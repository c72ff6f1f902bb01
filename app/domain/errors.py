"""Error codes of protocol v1 and the exception that carries one to the transport."""

INVALID = "invalid"
UNAUTHORIZED = "unauthorized"
FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
NOT_IN_ROOM = "not_in_room"
RATE_LIMITED = "rate_limited"
TOO_LARGE = "too_large"
INTERNAL = "internal"

ERROR_CODES = (
    INVALID,
    UNAUTHORIZED,
    FORBIDDEN,
    NOT_FOUND,
    NOT_IN_ROOM,
    RATE_LIMITED,
    TOO_LARGE,
    INTERNAL,
)


class ChatError(Exception):
    """A refusal the client should see as `{"ok": false, "error": {...}}`."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
        disconnect: bool = False,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        # the transport should close this connection once the refusal is delivered
        self.disconnect = disconnect

    def to_dict(self) -> dict:
        error: dict = {"code": self.code, "message": self.message}
        if self.retry_after is not None:
            error["retry_after"] = self.retry_after
        return error


# -- what the store reports about a change it could not make (the services say why) -------


class MessageGoneError(Exception):
    """The message does not exist, or (for a change that needs it) is deleted."""


class NotAuthorError(Exception):
    """The change needs the message's author (an edit; a delete without staff powers)."""


class SanctionedError(Exception):
    """The user has a ban or mute in the room that the change is refused for."""


class TooManyReactionsError(Exception):
    """The message already has as many distinct emoji as allowed, and this one is new."""
