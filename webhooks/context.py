"""Per-app state the webhook views share: settings, store and counters."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app

from sidecar.clock import Clock
from sidecar.store import Store

EXTENSION = "vip_sidecar"


class Metrics:
    """Thread-safe counters, rendered as plain text for ``GET /metrics``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def incr(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def render(self) -> str:
        lines = [
            f'vip_sidecar_webhook_requests_total{{outcome="{name}"}} {count}'
            for name, count in sorted(self.snapshot().items())
        ]
        return "\n".join(lines) + "\n"


@dataclass
class WebhookSettings:
    """What the views need, kept on ``app.extensions`` (one per app)."""

    store: Store
    signing_secret: str | None
    allow_unsigned: bool
    max_body_bytes: int
    tolerance_seconds: int
    clock: Clock
    readiness: Callable[[], dict] | None
    metrics: Metrics = field(default_factory=Metrics)


def settings() -> WebhookSettings:
    """The running app's webhook settings."""
    return current_app.extensions[EXTENSION]
