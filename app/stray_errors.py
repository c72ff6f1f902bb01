"""Errors Python and gevent would print on stderr by themselves go through logging instead."""

import logging
import sys
import threading

log = logging.getLogger("app.errors")


def log_stray_errors() -> None:
    """From now on, in this process, these reach the log handlers (the JSON lines of
    gunicorn.conf.py) as one record each, any traceback in the record, never as raw lines:
    warnings, an exception that ends a thread, an unraisable exception (in `__del__`, in a
    callback), and an error gevent's hub would print (a greenlet that died of it)."""
    logging.captureWarnings(True)
    threading.excepthook = _thread_failed
    sys.unraisablehook = _unraisable
    if "gevent" in sys.modules:
        _log_gevent_hub_errors()


def _thread_failed(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:  # how a thread may end quietly: not an error
        return
    name = args.thread.name if args.thread is not None else "?"
    log.error(
        "thread %s failed", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback)
    )


def _unraisable(args) -> None:
    message = args.err_msg or "Exception ignored in"
    log.error(
        "%s: %r", message, args.object, exc_info=(args.exc_type, args.exc_value, args.exc_traceback)
    )


def _log_gevent_hub_errors() -> None:
    """gevent lets an application replace its hub's printer (an attribute of the hub)."""
    import gevent

    hub = gevent.get_hub()
    print_raw = hub.print_exception

    def print_exception(context, kind, value, tb) -> None:
        try:
            where = "hub" if context is None else hub.format_context(context)
            exc_info = (kind, value, tb) if isinstance(value, BaseException) else None
            log.error(
                "greenlet %s failed with %s",
                where,
                getattr(kind, "__name__", kind),
                exc_info=exc_info,
            )
        except Exception:  # this must not raise: then gevent prints it its own way
            print_raw(context, kind, value, tb)

    hub.print_exception = print_exception
