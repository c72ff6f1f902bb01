"""Several server processes behind Redis: the heartbeat that retires the connections of a
process that died (the ordered message queue is app/transport/redis_manager.py)."""

import logging
from collections.abc import Callable

from flask import Flask

from .storage.redis_stores import RedisLiveness

log = logging.getLogger(__name__)


class Heartbeat:
    """Keeps this process counted as alive, and retires processes that stopped beating:
    their users leave their rooms (a `presence` left each) on every surviving process."""

    def __init__(
        self,
        app: Flask,
        start_task: Callable,
        sleep: Callable[[float], None],
        liveness: RedisLiveness,
        ttl: float,
    ):
        self.app = app
        self.start_task = start_task
        self.sleep = sleep
        self.liveness = liveness
        self.interval = ttl / 3
        self.started = False

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        self.liveness.beat()
        self.start_task(self._run)

    def _run(self) -> None:
        while True:
            self.sleep(self.interval)
            try:
                self.liveness.beat()
                for host in self.liveness.claim_dead_hosts():
                    self.retire(host)
            except Exception:
                log.exception("heartbeat failed; retrying in %.1f s", self.interval)

    def retire(self, host: str) -> None:
        sids = self.liveness.connections_of(host)
        with self.app.app_context():
            connections = self.app.extensions["chat"].connections
            for sid in sids:
                connections.disconnect(sid)
        self.liveness.forget(host)
        log.info("process %s stopped beating: retired its %d connection(s)", host, len(sids))
