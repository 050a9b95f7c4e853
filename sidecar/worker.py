"""The generic claim loop: take inbox events by ticket, hand them over, settle them.

A handler gets every ready event of one ticket at once (coalesced). Success
completes them; an exception schedules a retry with backoff. Transient errors
(rate limits, timeouts) are retried for longer than the others before an event
is marked failed. One bad ticket never stops the batch, and a failing store
never stops the loop.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence

from sqlalchemy.exc import SQLAlchemyError

from sidecar.clock import Clock
from sidecar.errors import SidecarError
from sidecar.store import InboxEvent, Store

logger = logging.getLogger(__name__)

Handler = Callable[[int, list[InboxEvent]], None]


def _default_is_transient(error: BaseException) -> bool:
    return bool(getattr(error, "transient", False))


def default_worker_id() -> str:
    """Unique per process and instance: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def describe_error(error: BaseException) -> str:
    """What the inbox keeps as last_error: our own messages, else the class only.

    Vendor exception messages can quote ticket content, so they are not kept.
    """
    if isinstance(error, SidecarError):
        return f"{type(error).__name__}[{error.code}]: {error.message}"[:2000]

    return type(error).__name__


def retry_after_seconds(error: BaseException) -> float:
    """A Retry-After hint carried by the exception, in seconds (0 when none)."""
    hint = getattr(error, "retry_after", None)
    if isinstance(hint, int | float) and not isinstance(hint, bool) and hint > 0:
        return float(hint)

    return 0.0


class Worker:
    """Runs ``handler(ticket_id, events)`` for claimed inbox events."""

    def __init__(
        self,
        store: Store,
        handler: Handler,
        *,
        clock: Clock,
        worker_id: str | None = None,
        poll_interval: float = 0.5,
        max_tickets: int = 10,
        is_transient: Callable[[BaseException], bool] = _default_is_transient,
        lease_seconds: float = 60,
        max_attempts: int = 8,
        max_transient_attempts: int = 50,
    ) -> None:
        self.store = store
        self.handler = handler
        self.clock = clock
        self.worker_id = worker_id or default_worker_id()
        self.poll_interval = poll_interval
        self.max_tickets = max_tickets
        self.is_transient = is_transient
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.max_transient_attempts = max_transient_attempts
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Claim one batch and handle it; returns the number of events handled."""
        batch = self.store.claim_batch(
            worker_id=self.worker_id,
            now=self.clock.now(),
            lease_seconds=self.lease_seconds,
            max_tickets=self.max_tickets,
        )

        for ticket_id, events in batch.items():
            self._handle_ticket(ticket_id, events)

        return sum(len(events) for events in batch.values())

    def _handle_ticket(self, ticket_id: int, events: list[InboxEvent]) -> None:
        ids = [event.id for event in events]
        try:
            self.handler(ticket_id, events)
        except Exception as error:
            self._settle_failure(ticket_id, events, error)
            return

        try:
            self.store.complete(ids, self.clock.now())
        except SQLAlchemyError:
            # The lease runs out and another pass repeats the (idempotent) work.
            logger.error("ticket %s handled but not marked done", ticket_id)

    def _settle_failure(
        self, ticket_id: int, events: Sequence[InboxEvent], error: Exception
    ) -> None:
        transient = self.is_transient(error)
        limit = self.max_transient_attempts if transient else self.max_attempts
        gives_up = max(event.attempts for event in events) + 1 >= limit
        log = logger.error if gives_up else logger.warning
        log(
            "ticket %s: handler failed with %s (transient=%s, %s)",
            ticket_id,
            type(error).__name__,
            transient,
            "giving up" if gives_up else "retry scheduled",
        )

        try:
            self.store.retry_later(
                [event.id for event in events],
                error=describe_error(error),
                now=self.clock.now(),
                max_attempts=limit,
                min_delay=retry_after_seconds(error),
            )
        except SQLAlchemyError:
            logger.error("ticket %s: retry could not be scheduled", ticket_id)

    # -- background thread ---------------------------------------------------

    def start(self) -> None:
        """Run the loop in a background thread until ``stop``."""
        if self._thread is not None and self._thread.is_alive():
            return

        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name=f"inbox-worker-{self.worker_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Finish the current batch and stop; waits up to ``timeout`` seconds."""
        self._stop.set()
        if self._thread is None:
            return

        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("worker %s still busy after %ss", self.worker_id, timeout)
            return

        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        logger.info("worker %s started", self.worker_id)
        while not self._stop.is_set():
            try:
                handled = self.run_once()
            except Exception as error:
                logger.error(
                    "worker %s: claim failed with %s",
                    self.worker_id,
                    type(error).__name__,
                )
                handled = 0

            if handled == 0:
                self._stop.wait(self.poll_interval)

        logger.info("worker %s stopped", self.worker_id)
