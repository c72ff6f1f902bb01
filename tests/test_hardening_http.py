"""Issue 12, HTTP side: nested JSON, lookalike and bidi names (items 8, 11, 12)."""

import pytest

from .test_http import api_error

# 20,000 levels: about 40 KB, under the 64 KiB body limit
DEEP = "[" * 20_000 + "]" * 20_000


@pytest.mark.parametrize("path", ["/api/users", "/api/tokens", "/api/rooms/general/messages"])
def test_deeply_nested_json_is_a_400_invalid_not_a_crash(client, make_user, path):
    headers = {"Authorization": f"Bearer {make_user('alice')}"}
    response = client.post(path, data=DEEP, content_type="application/json", headers=headers)
    api_error(response, 400, "invalid")
    nested_object = '{"a":' * 10_000 + "1" + "}" * 10_000  # 60 KB
    response = client.post(
        path, data=nested_object, content_type="application/json", headers=headers
    )
    api_error(response, 400, "invalid")
