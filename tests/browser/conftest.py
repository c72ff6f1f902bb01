"""Browser fixtures: Debian's Chromium under Playwright, one live server per module, users."""

import os
from collections.abc import Callable

import pytest

from tests.support.accounts import PASSWORD, register
from tests.support.browser import DESKTOP, TIMEOUT_MS
from tests.support.chromium import CHROMIUM, LAUNCH_ARGS
from tests.support.live import LiveServer


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium) as root"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -e '.[test]'"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _missing()
    if reason:
        # CI must exercise the page: a missing browser there is a failure, not a skip.
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def live(browser, request, tmp_path_factory):
    """A real server for the whole module; a module sets SERVER_ENV to change its config, and
    PRODUCTION = True for gunicorn + gevent instead of `flask run`."""
    folder = tmp_path_factory.mktemp("browser")
    # Cheap password hashes keep sign-ins quick (the default, scrypt, takes ~0.2 s each).
    env = {
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        **getattr(request.module, "SERVER_ENV", {}),
    }
    server = LiveServer(
        f"sqlite:///{folder / 'chat.db'}",
        folder / "server.log",
        production=getattr(request.module, "PRODUCTION", False),
        **env,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def open_chat(browser, live) -> Callable:
    """Sign `username` in (registering it first) in a fresh browser context; returns the page.

    `setup(context)` runs before the page loads (to route its WebSocket); every page records
    the JavaScript dialogs it was asked to show in `page.dialogs`. An uncaught JavaScript
    error on any page fails the test (a broken module import or handler shows up here even
    where the test does not look).
    """
    contexts = []
    errors: list[str] = []

    def open_page(username: str, setup: Callable | None = None, **options):
        response = register(live, username)
        assert response.status_code in (201, 409), response.text  # 409: signed up before
        context = browser.new_context(viewport=DESKTOP, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        if setup:
            setup(context)
        page = context.new_page()
        page.dialogs = []
        page.on("pageerror", lambda error, name=username: errors.append(f"{name}: {error}"))

        def on_dialog(dialog):
            page.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(f"{live.url}/auth/login")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.locator("#connection[data-state=connected]").wait_for()
        page.locator("#my-rooms .room-button[data-room=general]").wait_for()
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"uncaught JavaScript errors on the page: {errors}"
