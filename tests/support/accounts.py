"""Making users: the JSON API's sign-up and tokens, the HTML forms, and the error shapes.

`http` is anything with `post(path, json=..., data=...)`: a Flask test client, or a
LiveServer (tests/support/live.py), so one helper serves both kinds of test.
"""

PASSWORD = "correct horse battery"


def _json(response) -> dict:
    """A response's JSON body: a Flask test response or a requests one."""
    return response.get_json() if hasattr(response, "get_json") else response.json()


def register(http, username: str, password: str = PASSWORD):
    """POST /api/users; the response, unchecked (a sign-up test asserts on it)."""
    return http.post("/api/users", json={"username": username, "password": password})


def issue_token(http, username: str, password: str = PASSWORD) -> str:
    """POST /api/tokens, which must succeed; returns the token."""
    issued = http.post("/api/tokens", json={"username": username, "password": password})
    assert issued.status_code == 201, issued.text
    return _json(issued)["token"]


def sign_up(http, username: str, password: str = PASSWORD, *, new: bool = True) -> str:
    """Register `username` and return a fresh bearer token. With `new` the account must be
    created now; without, it may exist already (the registration's answer is not looked at,
    the token must still be issued)."""
    created = register(http, username, password)
    if new:
        assert created.status_code == 201, created.text
    return issue_token(http, username, password)


def register_form(
    http, username: str, password: str = PASSWORD, confirm: str | None = None, **extra
):
    """The HTML sign-up form (POST /auth/register; `extra`: more fields, e.g. csrf_token);
    the response, unchecked."""
    confirm = password if confirm is None else confirm
    return http.post(
        "/auth/register",
        data={"username": username, "password": password, "confirm": confirm, **extra},
    )


def login_form(http, username: str, password: str = PASSWORD, query: str = "", **extra):
    """The HTML sign-in form (POST /auth/login); the response, unchecked."""
    return http.post(
        f"/auth/login{query}", data={"username": username, "password": password, **extra}
    )


def assert_error_object(error: dict, code: str, context=None) -> dict:
    """An `error` object of the documented shape (docs/protocol.md): `code`, a non-empty
    `message`, and for `rate_limited` a positive number `retry_after`; nothing else."""
    context = error if context is None else context
    assert error["code"] == code, context
    assert isinstance(error["message"], str), context
    assert error["message"].strip(), context
    if code == "rate_limited":
        assert set(error) == {"code", "message", "retry_after"}, context
        retry_after = error["retry_after"]
        assert isinstance(retry_after, int | float), context
        assert not isinstance(retry_after, bool), context
        assert retry_after > 0, context
    else:
        assert set(error) == {"code", "message"}, context
    return error


def api_error(response, status: int, code: str) -> dict:
    """A JSON API error (Flask test response) of the documented shape with `status`;
    returns the error object."""
    assert response.status_code == status, response.data
    assert response.is_json, response.headers.get("Content-Type")
    body = response.get_json()
    assert set(body) == {"error"}, body
    return assert_error_object(body["error"], code, body)
