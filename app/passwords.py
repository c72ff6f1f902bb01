"""Password hashing with werkzeug, run off the gevent loop so a slow hash never blocks chat."""

import sys
from collections.abc import Callable
from typing import TypeVar

from werkzeug.security import check_password_hash, generate_password_hash

T = TypeVar("T")


class WerkzeugHasher:
    """The domain's PasswordHasher: werkzeug's salted hashes (scrypt by default)."""

    def __init__(self, method: str):
        self.method = method

    def hash(self, password: str) -> str:
        """A new salted hash of `password` with the configured method."""
        return off_the_loop(generate_password_hash, password, method=self.method)

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether `password` matches `password_hash` (constant-time comparison)."""
        return off_the_loop(check_password_hash, password_hash, password)


def off_the_loop(fn: Callable[..., T], *args, **kwargs) -> T:
    """fn(*args, **kwargs), in gevent's thread pool when gevent has patched this process.

    scrypt takes ~50-100 ms of CPU and hashlib releases the GIL meanwhile: in a real thread
    the hub keeps serving every other connection; on the loop itself it would stall them all.
    Without gevent (threading mode, tests) each request has its own thread already.
    """
    if _gevent_patched():
        import gevent

        return gevent.get_hub().threadpool.apply(fn, args, kwargs)
    return fn(*args, **kwargs)


def _gevent_patched() -> bool:
    monkey = sys.modules.get("gevent.monkey")  # never imports gevent into a threading server
    return monkey is not None and monkey.is_module_patched("threading")
