"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py wsgi:app` (or `make serve`).

One gevent worker per process is the shape Flask-SocketIO supports without sticky sessions;
run more processes behind a load balancer rather than raising `workers`.
"""

import json
import logging
import os

bind = os.environ.get(
    "GUNICORN_BIND", f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
)
workers = int(os.environ.get("GUNICORN_WORKERS", "1"))
worker_class = "gevent"
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "10000"))
# WebSocket requests live as long as the connection: no request timeout applies to them.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "10"))
keepalive = 5
# gunicorn's control socket has one default path per user: several instances on one host
# (docs/deploy.md) would share it. Nothing here uses it (gunicornc).
control_socket_disable = True
loglevel = os.environ.get("LOG_LEVEL", "info")
accesslog = "-"
errorlog = "-"
# gevent records, for every greenlet, the one that spawned it and the stack it was spawned
# from (for its debugging tools): ~5 KiB per connection that nothing here reads.
os.environ.setdefault("GEVENT_TRACK_GREENLET_TREE", "false")
raw_env = [
    f"APP_ENV={os.environ.get('APP_ENV', 'production')}",
    f"SOCKETIO_ASYNC_MODE={os.environ.get('SOCKETIO_ASYNC_MODE', 'gevent')}",
]


def post_worker_init(worker):
    """SIGTERM (a deploy, a scale-down): close every client so it reconnects, to another
    process or to this one restarted, and let in-flight events store and ack first. And
    every line of the log stays JSON: what Python and gevent would print raw (a greenlet or
    thread that died of an error, a warning) is logged instead."""
    from app.shutdown import drain_when_gunicorn_stops
    from app.stray_errors import log_stray_errors

    drain_when_gunicorn_stops(worker)
    log_stray_errors()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what log collectors expect."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        }
    },
    "root": {"level": loglevel.upper(), "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
    },
}
