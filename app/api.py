"""JSON API blueprint for non-browser clients: accounts, tokens and posting messages."""

import math

from flask import Blueprint, current_app, jsonify, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import HTTPException

from .domain.accounts import UsernameTakenError
from .domain.errors import (
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    RATE_LIMITED,
    TOO_LARGE,
    UNAUTHORIZED,
    ChatError,
)
from .domain.models import Identity
from .payloads import PostPayload, parse
from .ratelimits import login_limited, register_limited
from .tokens import token_identity
from .wire import message_ack

bp = Blueprint("api", __name__, url_prefix="/api")

# The HTTP status of each refusal the message endpoint can give.
STATUS = {
    INVALID: 400,
    TOO_LARGE: 400,
    UNAUTHORIZED: 401,
    FORBIDDEN: 403,
    NOT_FOUND: 404,
    RATE_LIMITED: 429,
}


def error(status: int, code: str, message: str):
    return jsonify({"error": {"code": code, "message": message}}), status


def _credentials() -> tuple[str, str]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ChatError("invalid", 'Send a JSON object: {"username": ..., "password": ...}.')
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ChatError("invalid", "username and password must be strings.")
    return username, password


@bp.post("/users")
@register_limited
def create_user():
    try:
        account = current_app.extensions["accounts"].register(*_credentials())
    except UsernameTakenError as taken:
        return error(409, "username_taken", taken.message)
    except ChatError as refused:
        return error(400, refused.code, refused.message)
    return jsonify({"user": {"id": account.id, "username": account.username}}), 201


@bp.post("/tokens")
@login_limited
def create_token():
    try:
        username, password = _credentials()
    except ChatError as refused:
        return error(400, refused.code, refused.message)
    account = current_app.extensions["accounts"].authenticate(username, password)
    if account is None:
        return error(401, "invalid_credentials", "Wrong username or password.")
    if account.suspended:  # told only to whoever knows the password
        return error(403, "suspended", "This account is suspended.")
    signer = current_app.extensions["tokens"]
    return jsonify({"token": signer.issue(account.id), "expires_in": signer.max_age}), 201


@bp.post("/rooms/<room>/messages")
def post_message(room: str):
    """A bot or webhook posts with a bearer token; the room's sockets get `message` as usual."""
    try:
        identity = _bearer_identity()
        payload = parse(PostPayload, (request.get_json(silent=True),))
        with current_app.extensions["in_flight"].track():
            message, created = current_app.extensions["chat"].messages.post_as(
                identity, room, payload.text, payload.client_id, payload.reply_to
            )
    except ChatError as refused:
        return refusal(refused)
    return jsonify(message_ack(message)), 201 if created else 200


def _bearer_identity() -> Identity:
    """The user of `Authorization: Bearer <token>`, a token from POST /api/tokens."""
    credentials = request.authorization
    if credentials is None or credentials.type != "bearer" or not credentials.token:
        raise ChatError(UNAUTHORIZED, "Send Authorization: Bearer <a token from POST /api/tokens>.")
    extensions = current_app.extensions
    identity = token_identity(credentials.token, extensions["tokens"], extensions["accounts"])
    if identity is None:
        raise ChatError(UNAUTHORIZED, "The token is invalid or expired; get a new one.")
    return identity


def refusal(refused: ChatError):
    """A domain refusal as a JSON error with its status and the headers HTTP clients expect."""
    response = jsonify({"error": refused.to_dict()})
    response.status_code = STATUS[refused.code]
    if refused.code == UNAUTHORIZED:
        response.www_authenticate = WWWAuthenticate("bearer")
    if refused.retry_after is not None:
        # whole seconds in the header, rounded up so that obeying it is never too early
        response.retry_after = math.ceil(refused.retry_after)
    return response


def json_http_error(exc: HTTPException):
    """HTTP errors under /api/ as JSON; Flask routes 404/405 to app handlers, not blueprints."""
    if not request.path.startswith(bp.url_prefix + "/"):
        return exc
    code = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 500: "internal"}.get(
        exc.code or 500, "invalid"
    )
    return error(exc.code or 500, code, exc.description or exc.name)


@bp.record_once
def _register_error_handler(state) -> None:
    state.app.register_error_handler(HTTPException, json_http_error)
