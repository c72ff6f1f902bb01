"""Page blueprint: the chat page itself."""

from flask import Blueprint, render_template
from flask_login import current_user, login_required

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def index():
    return render_template("chat.html", username=current_user.username)
