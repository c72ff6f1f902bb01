"""Flask's JSON provider, hardened: a body nested too deeply is a bad request, not a crash."""

from typing import Any

from flask.json.provider import DefaultJSONProvider


class SafeJSONProvider(DefaultJSONProvider):
    """Parses like Flask's default, but JSON nested past Python's recursion limit raises
    ValueError, which request.get_json treats like any other malformed body (None when silent,
    400 otherwise)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            # the parser recursed once per "[" or "{": 20,000 of them fit in a 64 KiB body
            raise ValueError("JSON is nested too deeply.") from None
