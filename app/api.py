"""JSON API blueprint for non-browser clients: accounts and tokens."""

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from .domain.accounts import UsernameTakenError
from .domain.errors import ChatError

bp = Blueprint("api", __name__, url_prefix="/api")


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
def create_user():
    try:
        account = current_app.extensions["accounts"].register(*_credentials())
    except UsernameTakenError as taken:
        return error(409, "username_taken", taken.message)
    except ChatError as refused:
        return error(400, refused.code, refused.message)
    return jsonify({"user": {"id": account.id, "username": account.username}}), 201


@bp.post("/tokens")
def create_token():
    try:
        username, password = _credentials()
    except ChatError as refused:
        return error(400, refused.code, refused.message)
    account = current_app.extensions["accounts"].authenticate(username, password)
    if account is None:
        return error(401, "invalid_credentials", "Wrong username or password.")
    signer = current_app.extensions["tokens"]
    return jsonify({"token": signer.issue(account.id), "expires_in": signer.max_age}), 201


def json_http_error(exc: HTTPException):
    """HTTP errors under /api/ as JSON; Flask routes 404/405 to app handlers, not blueprints."""
    if not request.path.startswith(bp.url_prefix + "/"):
        return exc
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.code or 500, "invalid")
    return error(exc.code or 500, code, exc.description or exc.name)


@bp.record_once
def _register_error_handler(state) -> None:
    state.app.register_error_handler(HTTPException, json_http_error)
