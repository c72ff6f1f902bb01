"""`wsgi:app` with one more page, for tests: it makes a greenlet and a thread die of an error
and raises a warning, as a bug would, to see how the production server logs them."""

import threading
import warnings

import gevent

from wsgi import app


@app.get("/test/stray-errors")
def stray_errors():
    gevent.spawn(lambda: 1 / 0)
    threading.Thread(target=lambda: {}["missing"], name="doomed").start()
    warnings.warn("a stray warning", UserWarning, stacklevel=1)
    return "started"
