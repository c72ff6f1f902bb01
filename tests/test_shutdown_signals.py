"""The SIGTERM handlers are signal-safe: a second signal landing anywhere, even inside the
handler itself or in gevent's hub, neither blocks nor starts a second shutdown.

Each case runs in a child Python (signal handlers and gevent's patching are per process)."""

import subprocess
import sys
import textwrap

from tests.support.live import ROOT

# A trace function that, on every line the handler runs (and every line of whatever it calls),
# calls the handler again: a second SIGTERM landing on that line, as Python would deliver it.
REENTER = """
import signal, sys

def call_reentered(handler):
    def tracer(frame, event, arg):
        return on_line

    def on_line(frame, event, arg):
        if event == "line":
            handler(signal.SIGTERM, None)  # not traced itself: one level deep
        return on_line

    sys.settrace(tracer)
    try:
        handler(signal.SIGTERM, None)
    finally:
        sys.settrace(None)
"""


def run_child(code: str, timeout: float = 20) -> subprocess.CompletedProcess:
    """Run REENTER + `code` in a child Python; killed after `timeout` (returncode None)."""
    script = textwrap.dedent(REENTER) + textwrap.dedent(code)
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = child.communicate(timeout=timeout)
        return subprocess.CompletedProcess(child.args, child.returncode, out, err)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        return subprocess.CompletedProcess(child.args, None, out, err + "\n(hung: killed)")


def test_flask_run_handler_interrupted_by_more_sigterms_returns_and_drains_once():
    done = run_child(
        """
        import threading
        import time
        import app.shutdown as shutdown

        handler_done = threading.Event()

        def drain(socketio, in_flight, timeout=10.0):
            handler_done.wait(5)  # then the KeyboardInterrupt to come cannot land in it
            print("drained", flush=True)

        shutdown.drain = drain
        shutdown.EXIT_GRACE_SECONDS = 0.2

        class App:
            extensions = {"in_flight": None}

        assert shutdown.install_sigterm_handler(App(), None)
        call_reentered(signal.getsignal(signal.SIGTERM))
        print("handler returned", flush=True)
        handler_done.set()
        try:
            for _ in range(300):  # short sleeps, as werkzeug's serve_forever polls
                time.sleep(0.1)
        except KeyboardInterrupt:  # how the shutdown thread stops werkzeug's server
            print("interrupted", flush=True)
            time.sleep(30)  # then it ends the process (os._exit(0))
        """
    )
    # Before: Event.set() re-entered while holding its own lock blocked the main thread
    # forever; the handler never returned.
    assert "handler returned" in done.stdout, done.stdout + done.stderr
    assert done.stdout.split() == ["handler", "returned", "drained", "interrupted"]
    assert done.returncode == 0


def test_gunicorn_handler_in_gevents_hub_while_logging_is_busy_stops_and_drains_once():
    done = run_child(
        """
        from gevent import monkey

        monkey.patch_all()
        import logging
        import gevent
        import app.shutdown as shutdown

        logging.basicConfig(level=logging.INFO, stream=sys.stdout)
        drains, stops = [], []
        shutdown.drain = lambda socketio, in_flight, timeout=10.0: drains.append(1)

        class SocketIO:
            start_background_task = staticmethod(gevent.spawn)

        class Worker:
            class wsgi:
                extensions = {"socketio": SocketIO(), "in_flight": None}

            def handle_exit(self, signum, frame):
                stops.append(signum)

        shutdown.drain_when_gunicorn_stops(Worker())
        handler = signal.getsignal(signal.SIGTERM)

        # A greenlet is writing a log line (holds the handler's lock) when SIGTERM lands in
        # the hub, then more SIGTERMs land inside the handler.
        log_handler = logging.getLogger().handlers[0]

        def busy_logging():
            with log_handler.lock:
                gevent.sleep(0.5)

        busy = gevent.spawn(busy_logging)
        gevent.sleep(0)
        errors = []

        def in_the_hub():
            try:
                call_reentered(handler)
            except BaseException as error:
                errors.append(repr(error))

        gevent.get_hub().loop.run_callback(in_the_hub)
        gevent.sleep(1)
        busy.join()
        print("errors", errors, "stops", len(stops), "drains", len(drains), flush=True)
        """
    )
    assert "errors [] stops 1 drains 1" in done.stdout, done.stdout + done.stderr
    assert done.returncode == 0
