"""Ticket webhooks sent the way Zendesk sends them: signed, retried, unordered.

Two body styles: a trigger-connected webhook rendering the project's JSON
template (placeholders become plain strings, status and priority display
labels), or event-subscribed ``zen:event-type:ticket.*`` payloads (string ids,
UPPERCASE enums, pretty-printed with a three-space indent).

Retries follow Zendesk's published rules: a timeout is retried up to 5 times,
a 409 up to 3 times, a 429/503 only when ``Retry-After`` is under 60 seconds;
anything else is final. Every attempt is recorded in the sandbox state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from sidecar.sandbox.desk import Change
from sidecar.sandbox.state import SandboxState, format_time

logger = logging.getLogger(__name__)

EVENT_VERSION = "2022-11-06"
TRIGGER_NAME = "vip-sidecar-ticket-created-or-updated"
STATUS_LABELS = {
    "new": "New",
    "open": "Open",
    "pending": "Pending",
    "hold": "On-hold",
    "solved": "Solved",
    "closed": "Closed",
}
MAX_TIMEOUT_RETRIES = 5
MAX_CONFLICT_RETRIES = 3
MAX_THROTTLE_RETRIES = 5
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Zendesk's signature: base64(HMAC-SHA256(secret, timestamp + body))."""
    digest = hmac.new(
        secret.encode("utf-8"), timestamp.encode("utf-8") + body, hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def new_ulid() -> str:
    """A 26-character id in the style of Zendesk's webhook and invocation ids."""
    number = (int(time.time() * 1000) << 80) | random.getrandbits(80)
    chars = []
    for _ in range(26):
        number, index = divmod(number, 32)
        chars.append(CROCKFORD[index])

    return "".join(reversed(chars))


def render_trigger(change: Change, state: SandboxState) -> list[tuple[str, bytes]]:
    """The trigger template's body, rendered as Zendesk renders placeholders."""
    ticket = change.ticket
    with state.lock:
        requester = state.users.get(ticket["requester_id"], {})
        organization = state.organizations.get(ticket.get("organization_id") or 0)

    body = {
        "source": "zendesk-trigger",
        "trigger": TRIGGER_NAME,
        "ticket_id": str(ticket["id"]),
        "ticket_updated_at": ticket["updated_at"],
        "ticket_created_at": ticket["created_at"],
        "status": STATUS_LABELS.get(ticket["status"], ticket["status"]),
        "priority": (ticket.get("priority") or "").capitalize(),
        "requester_id": str(ticket["requester_id"]),
        "requester_email": requester.get("email") or "",
        "organization_id": _text(ticket.get("organization_id")),
        "organization_external_id": _text((organization or {}).get("external_id")),
        "tags": " ".join(ticket["tags"]),
        "current_user_id": str(change.actor_id),
    }
    return [("trigger", json.dumps(body).encode("utf-8"))]


def render_events(
    change: Change, state: SandboxState, now: datetime
) -> list[tuple[str, bytes]]:
    """One ``zen:event-type:ticket.*`` payload per thing that changed."""
    events: list[tuple[str, dict[str, Any]]] = []
    if change.created:
        events.append(("ticket.created", {}))

    for name, kind in (
        ("status", "ticket.status_changed"),
        ("priority", "ticket.priority_changed"),
    ):
        if name in change.changes:
            old, new = change.changes[name]
            events.append((kind, {"current": _upper(new), "previous": _upper(old)}))

    if "group_id" in change.changes:
        old, new = change.changes["group_id"]
        event = {"current": _ref(new), "previous": _ref(old)}
        events.append(("ticket.group_assignment_changed", event))

    if "tags" in change.changes:
        events.append(("ticket.tags_changed", {"tags": _tag_delta(change)}))

    if change.comment is not None and not change.created:
        comment = _event_comment(change.comment, state)
        events.append(("ticket.comment_added", {"comment": comment}))

    detail = _detail(change)
    return [
        (kind, _envelope(kind, event, detail, state, now)) for kind, event in events
    ]


def _detail(change: Change) -> dict[str, Any]:
    ticket = change.ticket
    return {
        "actor_id": str(change.actor_id),
        "assignee_id": _text(ticket.get("assignee_id")) or None,
        "brand_id": _text(ticket.get("brand_id")) or None,
        "created_at": ticket["created_at"],
        "custom_status": None,
        "description": ticket["description"],
        "external_id": ticket.get("external_id"),
        "form_id": None,
        "group_id": _text(ticket.get("group_id")) or None,
        "id": str(ticket["id"]),
        "is_public": ticket["is_public"],
        "organization_id": _text(ticket.get("organization_id")) or None,
        "priority": _upper(ticket.get("priority")),
        "requester_id": str(ticket["requester_id"]),
        "status": _upper(ticket["status"]),
        "subject": ticket["subject"],
        "submitter_id": str(ticket["submitter_id"]),
        "tags": list(ticket["tags"]) or None,
        "type": _upper(ticket.get("type")),
        "updated_at": ticket["updated_at"],
        "via": {"channel": "web_service"},
    }


def _envelope(
    kind: str,
    event: dict[str, Any],
    detail: dict[str, Any],
    state: SandboxState,
    now: datetime,
) -> bytes:
    payload = {
        "account_id": state.account_id,
        "detail": detail,
        "event": event,
        "id": str(uuid.uuid4()),
        "subject": f"zen:ticket:{detail['id']}",
        "time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z"),
        "type": f"zen:event-type:{kind}",
        "zendesk_event_version": EVENT_VERSION,
    }
    return (json.dumps(payload, indent=3, sort_keys=True) + "\n").encode("utf-8")


def _event_comment(comment: dict[str, Any], state: SandboxState) -> dict[str, Any]:
    with state.lock:
        author = state.users.get(comment["author_id"], {})

    return {
        "author": {
            "id": str(comment["author_id"]),
            "is_staff": author.get("role") in ("agent", "admin"),
            "name": author.get("name", ""),
        },
        "body": comment["body"],
        "id": str(comment["id"]),
        "is_public": comment["public"],
    }


def _tag_delta(change: Change) -> dict[str, list[str] | None]:
    old, new = change.changes["tags"]
    added = [t for t in new if t not in old]
    removed = [t for t in old if t not in new]
    return {"added": added or None, "removed": removed or None}


def _upper(value: Any) -> str | None:
    return str(value).upper() if value else None


def _ref(value: Any) -> dict[str, str] | None:
    return {"id": str(value)} if value else None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass
class Invocation:
    """One webhook invocation: the same id and body across its attempts."""

    invocation_id: str
    ticket_id: int
    body: bytes
    kind: str
    duplicate_of: str | None = None
    attempts: int = 0
    retries: dict[str, int] = field(default_factory=dict)


class WebhookSender:
    """Delivers invocations to one URL from a background thread."""

    def __init__(
        self,
        state: SandboxState,
        url: str | None,
        secret: str,
        *,
        timeout: float = 12.0,
        backoff: float = 0.5,
        duplicate_rate: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.state = state
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.backoff = backoff
        self.duplicate_rate = duplicate_rate
        self.webhook_id = new_ulid()
        self._random = random.Random(seed)
        self._queue: queue.Queue[Invocation | None] = queue.Queue()
        self._stopping = threading.Event()
        self._session = requests.Session()
        self._session.trust_env = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="sandbox-webhooks", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)

        self._session.close()

    def enqueue(self, ticket_id: int, bodies: list[tuple[str, bytes]]) -> None:
        """Queue one invocation per body; nothing happens without a URL."""
        if self.url is None or self._stopping.is_set():
            return

        for kind, body in bodies:
            self._queue.put(Invocation(new_ulid(), ticket_id, body, kind))

    def flush(self, timeout: float = 10) -> bool:
        """Wait until every queued invocation is delivered or given up."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)

        return self._queue.unfinished_tasks == 0

    def _run(self) -> None:
        while True:
            invocation = self._queue.get()
            try:
                if invocation is None:
                    return

                self._deliver(invocation)
            except Exception:
                logger.exception("webhook delivery crashed")
            finally:
                self._queue.task_done()

    def _deliver(self, invocation: Invocation) -> None:
        while not self._stopping.is_set():
            status, retry_after = self._attempt(invocation)
            wait = self._retry_wait(invocation, status, retry_after)
            if wait is None:
                break

            if self._stopping.wait(wait):
                return

        if status is not None and 200 <= status < 300:
            self._maybe_duplicate(invocation)

    def _attempt(self, invocation: Invocation) -> tuple[int | None, str | None]:
        timestamp = format_time(datetime.now(UTC))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Zendesk Webhook",
            "X-Zendesk-Account-Id": str(self.state.account_id),
            "X-Zendesk-Webhook-Id": self.webhook_id,
            "X-Zendesk-Webhook-Invocation-Id": invocation.invocation_id,
            "X-Zendesk-Webhook-Signature": sign(
                self.secret, timestamp, invocation.body
            ),
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        }
        invocation.attempts += 1
        status, retry_after, error = None, None, None
        try:
            response = self._session.post(
                self.url, data=invocation.body, headers=headers, timeout=self.timeout
            )
            status, retry_after = (
                response.status_code,
                response.headers.get("Retry-After"),
            )
            response.close()
        except requests.RequestException as exc:
            error = type(exc).__name__

        self._record(invocation, status, error, timestamp)
        return status, retry_after

    def _retry_wait(
        self, invocation: Invocation, status: int | None, retry_after: str | None
    ) -> float | None:
        """Seconds to wait before retrying, or None when Zendesk would stop."""
        if status is None:
            reason, limit, wait = "timeout", MAX_TIMEOUT_RETRIES, self.backoff
        elif status == 409:
            reason, limit, wait = "conflict", MAX_CONFLICT_RETRIES, self.backoff
        elif status in (429, 503):
            seconds = _seconds(retry_after)
            if seconds is None or seconds >= 60:
                return None

            reason, limit, wait = "throttled", MAX_THROTTLE_RETRIES, seconds
        else:
            return None

        used = invocation.retries.get(reason, 0)
        if used >= limit:
            logger.warning(
                "webhook invocation %s given up after %s attempts",
                invocation.invocation_id,
                invocation.attempts,
            )
            return None

        invocation.retries[reason] = used + 1
        return wait * (used + 1) if reason != "throttled" else wait

    def _maybe_duplicate(self, invocation: Invocation) -> None:
        if invocation.duplicate_of is not None or self.duplicate_rate <= 0:
            return

        if self._random.random() < self.duplicate_rate:
            copy = Invocation(
                new_ulid(),
                invocation.ticket_id,
                invocation.body,
                invocation.kind,
                duplicate_of=invocation.invocation_id,
            )
            self._deliver(copy)

    def _record(
        self,
        invocation: Invocation,
        status: int | None,
        error: str | None,
        timestamp: str,
    ) -> None:
        with self.state.lock:
            self.state.webhook_attempts.append(
                {
                    "invocation_id": invocation.invocation_id,
                    "attempt": invocation.attempts,
                    "ticket_id": invocation.ticket_id,
                    "kind": invocation.kind,
                    "status": status,
                    "error": error,
                    "timestamp": timestamp,
                    "duplicate_of": invocation.duplicate_of,
                }
            )


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
