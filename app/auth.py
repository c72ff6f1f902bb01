"""Auth blueprint: HTML register/login/logout forms with Flask-Login sessions."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from .domain.accounts import Account, AccountService
from .domain.errors import ChatError
from .domain.rules import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, USERNAME_RE
from .extensions import login_manager
from .ratelimits import login_limited, register_limited

bp = Blueprint("auth", __name__, url_prefix="/auth")
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to chat."


class SessionUser(UserMixin):
    """The Flask-Login view of an account."""

    def __init__(self, account: Account):
        self.id = account.id
        self.username = account.username
        self.is_admin = account.is_admin


@login_manager.user_loader
def load_user(user_id: str) -> SessionUser | None:
    """The session's user, read at each request: a suspended (or deleted) account's session
    is signed out there."""
    account = accounts().repository.get(int(user_id)) if user_id.isdigit() else None
    return SessionUser(account) if account and not account.suspended else None


def accounts() -> AccountService:
    return current_app.extensions["accounts"]


class RegisterForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[
            DataRequired(),
            Regexp(USERNAME_RE, message="3-32 characters: letters, digits, '_', '-' and '.'."),
        ],
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH)],
    )
    confirm = PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", "Passwords differ.")]
    )


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Remember me")


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never bounce a fresh login to another site."""
    # Browsers drop tabs and newlines and read a backslash as "/": "/<tab>/evil" is "//evil".
    if (
        target
        and target.startswith("/")
        and not any(char < " " or char in "\x7f\\" for char in target)
        and not target.startswith("//")
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("main.index")


@bp.route("/register", methods=["GET", "POST"])
@register_limited
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            account = accounts().register(form.username.data, form.password.data)
        except ChatError as error:
            form.username.errors.append(error.message)
        else:
            login_user(SessionUser(account))
            flash(f"Welcome, {account.username}!")
            return redirect(url_for("main.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/register.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
@login_limited
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        account = accounts().authenticate(form.username.data, form.password.data)
        if account is None:
            form.password.errors.append("Wrong username or password.")
        elif account.suspended:  # told only to whoever knows the password
            form.username.errors.append("This account is suspended.")
        else:
            login_user(SessionUser(account), remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


def refused_form(message: str, status: int):
    """The sign-in or sign-up form of this request again, its input kept, with `message`."""
    register_page = request.endpoint == "auth.register"
    form = RegisterForm() if register_page else LoginForm()
    form.username.errors = [message]
    template = "auth/register.html" if register_page else "auth/login.html"
    return current_app.make_response((render_template(template, form=form), status))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash("You are signed out.")
    return redirect(url_for("auth.login"))
