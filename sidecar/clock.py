"""Where the sidecar reads the time. Rules never do; they are passed ``now``."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetClock:
    """The real time shifted by an adjustable offset (the demo's simulated time).

    The sandbox and the sidecar share one instance so both see the same time.
    """

    def __init__(self, offset: timedelta | None = None) -> None:
        self._offset = offset or timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset

        return datetime.now(UTC) + offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta
