"""Page blueprint: the chat page itself, and the health check."""

import logging

from flask import Blueprint, jsonify, render_template
from flask_login import current_user, login_required
from sqlalchemy import text

from .extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def index():
    return render_template("chat.html", username=current_user.username)


@bp.get("/healthz")
def healthz():
    """For load balancers and orchestrators: 200 when the database answers, else 503."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.commit()
    except Exception:
        log.exception("health check: database unreachable")
        db.session.rollback()
        return jsonify({"status": "error", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})
