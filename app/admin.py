"""Admin page blueprint (/admin): the report queue, users (suspend, admins) and the audit log."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .domain.admin import DISMISSED, RESOLVED, AdminService
from .domain.errors import ChatError
from .extensions import db
from .ratelimits import admin_limited
from .storage.admin import SqlAuditView

bp = Blueprint("admin", __name__, url_prefix="/admin")

USERS_PAGE = 50
AUDIT_PAGE = 100


def service() -> AdminService:
    return current_app.extensions["admin"]


@bp.before_request
@login_required
def admins_only():
    """Signed-out visitors go to the sign-in page (login_required); everyone else but admins
    gets 403. The session's user is read from the database at every request, so a revoked
    admin is refused at once."""
    if not current_user.is_admin:
        abort(403)


@bp.get("/")
def index():
    query = request.args.get("q", "").strip()[:32]
    page = request.args.get("page", 1, type=int) or 1
    page = max(page, 1)
    users = service().search(query, offset=(page - 1) * USERS_PAGE, limit=USERS_PAGE + 1)
    return render_template(
        "admin/index.html",
        reports=service().open_reports(),
        users=users[:USERS_PAGE],
        query=query,
        page=page,
        more_users=len(users) > USERS_PAGE,
        audit=SqlAuditView(db.session).recent(AUDIT_PAGE),
        me=current_user.id,
    )


@bp.post("/reports/<int:report_id>/resolve")
@admin_limited
def resolve(report_id: int):
    return _act(
        lambda admin: admin.review_report(current_user.id, report_id, RESOLVED),
        f"Report #{report_id} resolved.",
    )


@bp.post("/reports/<int:report_id>/dismiss")
@admin_limited
def dismiss(report_id: int):
    return _act(
        lambda admin: admin.review_report(current_user.id, report_id, DISMISSED),
        f"Report #{report_id} dismissed.",
    )


@bp.post("/users/<username>/suspend")
@admin_limited
def suspend(username: str):
    reason = request.form.get("reason")
    return _act(
        lambda admin: admin.suspend(current_user.id, username, reason), f"{username} is suspended."
    )


@bp.post("/users/<username>/unsuspend")
@admin_limited
def unsuspend(username: str):
    return _act(
        lambda admin: admin.unsuspend(current_user.id, username),
        f"{username} is no longer suspended.",
    )


@bp.post("/users/<username>/admin")
@admin_limited
def make_admin(username: str):
    return _act(
        lambda admin: admin.set_admin(current_user.id, username, True),
        f"{username} is now an admin.",
    )


@bp.post("/users/<username>/revoke-admin")
@admin_limited
def revoke_admin(username: str):
    return _act(
        lambda admin: admin.set_admin(current_user.id, username, False),
        f"{username} is no longer an admin.",
    )


def _act(action, done: str):
    """Run `action(AdminService)`, flash what happened (or why not), and go back to the page
    (the search it came from kept): post, redirect, get."""
    try:
        action(service())
    except ChatError as refused:
        flash(refused.message)
    else:
        flash(done)
    return redirect(url_for("admin.index", q=request.args.get("q") or None))
