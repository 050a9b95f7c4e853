"""``vip-sidecar serve``: the web server, the worker and the scheduler.

Gunicorn is the production server: a pre-fork server, so a slow or stuck
request costs one worker thread, not the process, and a crashed worker is
replaced by the arbiter. Each worker process builds its own :class:`Runtime`
after the fork (database engines and threads must not cross a fork) and runs
the inbox worker and the APScheduler sweep beside the web threads; the sweep
takes a lease in the store, so it runs once however many processes there are.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from sidecar.settings import Settings

log = logging.getLogger(__name__)


class SidecarServer(BaseApplication):
    """Gunicorn driven from code, with the sidecar's settings."""

    def __init__(self, settings: Settings, *, workers: int, threads: int) -> None:
        self.settings = settings
        self.workers = workers
        self.threads = threads
        self.runtime: Any = None
        super().__init__()

    def load_config(self) -> None:
        options = {
            "bind": self.settings.policy.bind,
            "workers": self.workers,
            "worker_class": "gthread",
            "threads": self.threads,
            # Zendesk gives up after about 12 s; answer long before that.
            "timeout": 30,
            "graceful_timeout": 15,
            "accesslog": None,
            # No control socket in the user's home: nothing here manages it.
            "control_socket_disable": True,
            "worker_exit": _worker_exit,
        }
        for key, value in options.items():
            if key in self.cfg.settings:  # control_socket_* is gunicorn >= 25.1
                self.cfg.set(key, value)

    def load(self) -> Any:
        from sidecar.runtime import Runtime

        # Called in each worker process after the fork.
        self.runtime = Runtime(self.settings)
        self.runtime.start()
        _RUNTIMES.append(self.runtime)
        return self.runtime.app


_RUNTIMES: list[Any] = []


def _worker_exit(server: Any, worker: Any) -> None:
    for runtime in _RUNTIMES:
        runtime.stop()


def serve(settings: Settings, *, workers: int | None = None) -> None:
    # Import the whole application in the master: the workers then share its
    # code pages (copy-on-write) instead of each loading its own copy. No
    # threads, engines or connections are made before the fork.
    import sidecar.runtime  # noqa: F401

    count = workers or settings.policy.server_workers
    log.info(
        "serving on %s with %d worker process(es) x %d threads",
        settings.policy.bind,
        count,
        settings.policy.server_threads,
    )
    SidecarServer(settings, workers=count, threads=settings.policy.server_threads).run()
