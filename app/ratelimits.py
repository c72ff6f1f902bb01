"""Rate limits on sign-in, sign-up and the admin page's forms (Flask-Limiter); their 429."""

import math
import time

from flask import current_app, flash, request
from flask_limiter import RateLimitExceeded
from flask_login import current_user

from .domain.errors import RATE_LIMITED, ChatError
from .domain.rules import username_key
from .extensions import limiter


def client_address() -> str:
    """The peer's address: a proxy's X-Forwarded-For counts only once PROXY_FIX trusts it."""
    return request.remote_addr or "unknown"


def address_and_username() -> str:
    """The address plus the username the body names: guessing one account's password is
    slowed without locking its owner out from elsewhere."""
    if request.is_json:
        body = request.get_json(silent=True)
        username = body.get("username") if isinstance(body, dict) else None
    else:
        username = request.form.get("username")
    name = username_key(username)[:64] if isinstance(username, str) else ""
    return f"{client_address()}|{name}"


def _config(name: str):
    return lambda: current_app.config[name]


# /api/tokens and /auth/login share their counters, as do /api/users and /auth/register.
_login_pair = limiter.shared_limit(
    _config("LOGIN_RATE"), scope="login", key_func=address_and_username, methods=["POST"]
)
_login_address = limiter.shared_limit(
    _config("LOGIN_ADDRESS_RATE"), scope="login-address", key_func=client_address, methods=["POST"]
)
_register_address = limiter.shared_limit(
    _config("REGISTER_RATE"), scope="register", key_func=client_address, methods=["POST"]
)


def signed_in_user() -> str:
    """The signed-in user (the admin page's forms are counted per admin, wherever from)."""
    return f"user:{current_user.get_id()}"


_admin_action = limiter.shared_limit(
    _config("ADMIN_ACTION_RATE"), scope="admin-action", key_func=signed_in_user, methods=["POST"]
)


def admin_limited(view):
    """The admin page's forms: ADMIN_ACTION_RATE per admin."""
    return _admin_action(view)


def login_limited(view):
    """Sign-in attempts: LOGIN_RATE per address and username, LOGIN_ADDRESS_RATE per address."""
    return _login_pair(_login_address(view))


def register_limited(view):
    """Sign-ups: REGISTER_RATE per address."""
    return _register_address(view)


def retry_after() -> int:
    """Whole seconds until the limit just breached lets the client try again (at least 1)."""
    breached = limiter.current_limit
    if breached is None:
        return 60
    return max(1, math.ceil(breached.window[0] - time.time()))


def too_many_requests(exc: RateLimitExceeded):
    """429 with Retry-After: a JSON error under /api/, the form again with a message elsewhere."""
    from . import admin, api, auth

    seconds = retry_after()
    if request.blueprint == admin.bp.name:
        # the admin page again, nothing done, saying why
        flash(f"Too many actions; nothing was done. Try again in {seconds} s.")
        response = current_app.make_response((admin.index(), 429))
        response.retry_after = seconds
        return response
    message = f"Too many attempts from here; try again in {seconds} s."
    if request.blueprint == api.bp.name:
        return api.refusal(ChatError(RATE_LIMITED, message, retry_after=seconds))
    response = auth.refused_form(message, 429)
    response.retry_after = seconds
    return response
