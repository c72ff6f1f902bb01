"""Accounts: registering users and checking their passwords."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from . import rules
from .errors import ChatError

# The server's own account, which `flask chat post` posts as by default: nobody may register
# the name (in any case) or sign in as it.
SYSTEM_USERNAME = "system"
# Stored instead of a hash: no hash format starts with "!", and authenticate refuses it
# outright rather than trusting every hasher to reject it.
UNUSABLE_PASSWORD = "!"  # noqa: S105


def is_system(username: str) -> bool:
    return rules.username_key(username) == rules.username_key(SYSTEM_USERNAME)


def _looks_like_system(username: str) -> bool:
    # the system account may not exist yet: its lookalikes are refused all the same
    return rules.username_skeleton(username) == rules.username_skeleton(SYSTEM_USERNAME)


class UsernameTakenError(ChatError):
    def __init__(self, username: str, message: str | None = None):
        super().__init__(
            "username_taken", message or f"The username {username!r} is already taken."
        )


class LookalikeUsernameError(UsernameTakenError):
    """The name is free, but looks like one that is not (aIice next to alice)."""

    def __init__(self, username: str):
        super().__init__(
            username,
            f"The username {username!r} is too similar to an existing username; choose another.",
        )


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    username: str
    password_hash: str
    is_admin: bool = False
    # set while an admin has suspended the account: no sign-in, tokens or sockets
    suspended_at: datetime | None = None
    suspended_reason: str | None = None

    @property
    def suspended(self) -> bool:
        return self.suspended_at is not None


class AccountRepository(Protocol):
    def find_by_username(self, username: str) -> Account | None:
        """Look up ignoring case."""
        ...

    def find_lookalike(self, username: str) -> Account | None:
        """An account whose username has the same skeleton (rules.username_skeleton)."""
        ...

    def get(self, user_id: int) -> Account | None: ...
    def create(self, username: str, password_hash: str) -> Account:
        """Raise UsernameTakenError when the name (ignoring case) or its skeleton exists."""
        ...

    def set_admin(self, user_id: int, is_admin: bool) -> None: ...
    def suspend(self, user_id: int, reason: str | None, at: datetime) -> None:
        """Mark the account suspended since `at` (a suspended one keeps its first time)."""
        ...

    def unsuspend(self, user_id: int) -> None: ...
    def is_admin(self, user_id: int) -> bool: ...
    def is_suspended(self, user_id: int) -> bool: ...
    def suspended_since(self, since: datetime) -> list[tuple[int, datetime]]:
        """(user id, suspended_at) of every account suspended at or after `since`."""
        ...

    def search(self, text: str, *, offset: int = 0, limit: int = 50) -> list[Account]:
        """Accounts whose name contains `text` (ignoring case), names starting with it
        first, then by name; `offset`/`limit` page through them."""
        ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...


class AccountService:
    def __init__(self, repository: AccountRepository, hasher: PasswordHasher):
        self.repository = repository
        self.hasher = hasher
        # Checked against when the username is unknown, so that a wrong name costs as much
        # time as a wrong password and timing does not reveal which accounts exist.
        self._decoy_hash = hasher.hash("decoy password, never valid")

    def register(self, username: str, password: str) -> Account:
        rules.check_new_username(username)
        rules.check_password(password)
        if is_system(username) or self.repository.find_by_username(username) is not None:
            raise UsernameTakenError(username)
        if _looks_like_system(username) or self.repository.find_lookalike(username) is not None:
            raise LookalikeUsernameError(username)
        return self.repository.create(username, self.hasher.hash(password))

    def system_account(self) -> Account:
        """The `system` account, created on first use with a password that never verifies."""
        account = self.repository.find_by_username(SYSTEM_USERNAME)
        if account is not None:
            return account
        try:
            return self.repository.create(SYSTEM_USERNAME, UNUSABLE_PASSWORD)
        except UsernameTakenError:  # another process created it just now
            return self.repository.find_by_username(SYSTEM_USERNAME)

    def poster(self, username: str) -> Account | None:
        """Who a script posts as: `system` (in any case, created on first use), else the
        existing account of that name, if any."""
        if is_system(username):
            return self.system_account()
        return self.repository.find_by_username(username)

    def authenticate(self, username: str, password: str) -> Account | None:
        account = self.repository.find_by_username(username)
        if account is None or account.password_hash == UNUSABLE_PASSWORD:
            self.hasher.verify(self._decoy_hash, password)
            return None
        return account if self.hasher.verify(account.password_hash, password) else None
