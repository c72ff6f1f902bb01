"""Page blueprint: the chat page itself, and the health check."""

import logging

from flask import Blueprint, current_app, jsonify, render_template
from flask_login import current_user, login_required
from sqlalchemy import text

from .extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def index():
    return render_template(
        "chat.html",
        username=current_user.username,
        transports=current_app.config["SOCKETIO_TRANSPORTS"],
    )


@bp.get("/healthz")
def healthz():
    """For load balancers and orchestrators: 200 when the database (and Redis, when several
    processes share it) answer, else 503 naming what failed."""
    checks = {"database": _check_database()}
    redis_client = current_app.extensions.get("redis")
    if redis_client is not None:
        checks["redis"] = _check_redis(redis_client)
    healthy = all(state == "ok" for state in checks.values())
    return jsonify({"status": "ok" if healthy else "error", **checks}), 200 if healthy else 503


def _check_database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.commit()
    except Exception:
        log.exception("health check: database unreachable")
        db.session.rollback()
        return "unreachable"
    return "ok"


def _check_redis(redis_client) -> str:
    try:
        redis_client.ping()
    except Exception:
        log.exception("health check: Redis unreachable")
        return "unreachable"
    return "ok"
