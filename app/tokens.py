"""Signed, expiring API tokens for non-browser clients."""

from itsdangerous import BadSignature, URLSafeTimedSerializer

from .domain.accounts import Account, AccountService
from .domain.models import Identity

SALT = "chat-api-token"


class TokenSigner:
    def __init__(self, secret_key: str, max_age: int):
        self._serializer = URLSafeTimedSerializer(secret_key, salt=SALT)
        self.max_age = max_age

    def issue(self, user_id: int) -> str:
        return self._serializer.dumps({"uid": user_id})

    def verify(self, token: object) -> tuple[int, float] | None:
        """(user id, expiry as epoch seconds) for a good token, else None."""
        if not isinstance(token, str) or not token or len(token) > 512:
            return None
        try:
            data, signed_at = self._serializer.loads(
                token, max_age=self.max_age, return_timestamp=True
            )
        except BadSignature:  # also SignatureExpired
            return None
        user_id = data.get("uid") if isinstance(data, dict) else None
        if not isinstance(user_id, int):
            return None
        return user_id, signed_at.timestamp() + self.max_age


def token_account(
    token: object, signer: TokenSigner, accounts: AccountService
) -> tuple[Account, float] | None:
    """The account a good token was issued to, suspended or not, and the token's expiry."""
    verified = signer.verify(token)
    account = accounts.repository.get(verified[0]) if verified else None
    return (account, verified[1]) if account else None


def token_identity(token: object, signer: TokenSigner, accounts: AccountService) -> Identity | None:
    """Who a token vouches for (sockets' `auth.token`, the API's bearer token), if anyone: a
    suspended account's tokens vouch for no one."""
    found = token_account(token, signer, accounts)
    if found is None or found[0].suspended:
        return None
    account, expires_at = found
    return Identity(account.id, account.username, expires_at)
