"""Accounts: registering users and checking their passwords."""

from dataclasses import dataclass
from typing import Protocol

from . import rules
from .errors import ChatError


class UsernameTakenError(ChatError):
    def __init__(self, username: str):
        super().__init__("username_taken", f"The username {username!r} is already taken.")


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    username: str
    password_hash: str


class AccountRepository(Protocol):
    def find_by_username(self, username: str) -> Account | None:
        """Look up ignoring case."""
        ...

    def get(self, user_id: int) -> Account | None: ...
    def create(self, username: str, password_hash: str) -> Account:
        """Raise UsernameTakenError when the name (ignoring case) exists."""
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
        rules.check_username(username)
        rules.check_password(password)
        if self.repository.find_by_username(username) is not None:
            raise UsernameTakenError(username)
        return self.repository.create(username, self.hasher.hash(password))

    def authenticate(self, username: str, password: str) -> Account | None:
        account = self.repository.find_by_username(username)
        if account is None:
            self.hasher.verify(self._decoy_hash, password)
            return None
        return account if self.hasher.verify(account.password_hash, password) else None
