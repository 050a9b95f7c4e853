"""Zendesk webhook bodies turned into inbox events: identifiers only.

Two shapes arrive. A trigger-connected webhook sends the body the admin wrote
from placeholders: every value is a string, status and priority are display
labels ("Open", "Urgent"), and an empty placeholder renders as "". An
event-subscribed webhook sends ``zen:event-type:ticket.*`` with a ``detail``
snapshot whose ids are strings and whose enums are UPPERCASE.

Only ids, timestamps and enums are kept. Subject, description, comments and
emails are never read into the payload: the worker re-fetches what it needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from webhooks.errors import BadRequest

EVENT_TYPE_PREFIX = "zen:event-type:"
TRIGGER_KIND = "trigger"

HANDLED_TICKET_EVENTS = frozenset(
    {
        "ticket.created",
        "ticket.status_changed",
        "ticket.priority_changed",
        "ticket.group_assignment_changed",
        "ticket.agent_assignment_changed",
        "ticket.tags_changed",
        "ticket.comment_added",
        "ticket.custom_field_changed",
    }
)

# For these the change itself is an id or an enum, so it is safe to keep.
_CHANGE_KINDS = frozenset(
    {
        "ticket.status_changed",
        "ticket.priority_changed",
        "ticket.group_assignment_changed",
        "ticket.agent_assignment_changed",
    }
)

# An unset priority may render as "" or as "-" in trigger placeholders.
_EMPTY_LABELS = frozenset({"", "-"})


@dataclass(frozen=True)
class ParsedEvent:
    """What the receiver stores for one webhook delivery."""

    ticket_id: int
    kind: str
    payload: dict[str, Any]
    actor_id: int | None
    dedupe_keys: tuple[str, ...] = field(default=())
    event_id: str | None = None


@dataclass(frozen=True)
class IgnoredEvent:
    """A well-formed delivery the sidecar does not act on (answered 200)."""

    event_type: str


def parse_body(raw: bytes) -> ParsedEvent | IgnoredEvent:
    """Parse a raw Zendesk webhook body; BadRequest names what is wrong."""
    body = load_object(raw)

    event_type = body.get("type")
    if isinstance(event_type, str) and event_type.startswith(EVENT_TYPE_PREFIX):
        return parse_subscribed_event(body, event_type.removeprefix(EVENT_TYPE_PREFIX))

    return parse_trigger(body)


def load_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or BadRequest saying why not."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest("body is not valid JSON", field="body") from exc

    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object", field="body")

    return body


def parse_trigger(body: dict[str, Any]) -> ParsedEvent:
    """The trigger-connected body (all values are rendered placeholder strings)."""
    ticket_id = to_id(body.get("ticket_id"), "ticket_id", required=True)
    updated_at = to_text(body.get("ticket_updated_at"))
    actor_id = to_id(body.get("current_user_id"), "current_user_id")
    payload = {
        "source": "trigger",
        "ticket_id": ticket_id,
        "updated_at": updated_at,
        "actor_id": actor_id,
        "requester_id": to_id(body.get("requester_id"), "requester_id"),
        "organization_id": to_id(body.get("organization_id"), "organization_id"),
        "status": to_enum(body.get("status")),
        "priority": to_enum(body.get("priority")),
    }
    return ParsedEvent(
        ticket_id=ticket_id,
        kind=TRIGGER_KIND,
        payload=payload,
        actor_id=actor_id,
        dedupe_keys=_ticket_key(ticket_id, updated_at, TRIGGER_KIND),
    )


def parse_subscribed_event(
    body: dict[str, Any], kind: str
) -> ParsedEvent | IgnoredEvent:
    """A ``zen:event-type:*`` body; anything but a handled ticket event is ignored."""
    if kind not in HANDLED_TICKET_EVENTS:
        return IgnoredEvent(event_type=kind)

    detail = body.get("detail")
    if not isinstance(detail, dict):
        raise BadRequest("detail must be an object", field="detail")

    ticket_id = _subscribed_ticket_id(body, detail)
    event_id = to_text(body.get("id"))
    updated_at = to_text(detail.get("updated_at"))
    actor_id = to_id(detail.get("actor_id"), "detail.actor_id")
    payload = _subscribed_payload(body, detail, kind, ticket_id, actor_id)

    keys = (f"event:{event_id}",) if event_id else ()
    return ParsedEvent(
        ticket_id=ticket_id,
        kind=kind,
        payload=payload,
        actor_id=actor_id,
        dedupe_keys=keys + _ticket_key(ticket_id, updated_at, kind),
        event_id=event_id,
    )


def _subscribed_ticket_id(body: dict[str, Any], detail: dict[str, Any]) -> int:
    if detail.get("id") not in (None, ""):
        return to_id(detail.get("id"), "detail.id", required=True)

    subject = body.get("subject")
    if isinstance(subject, str) and subject.startswith("zen:ticket:"):
        return to_id(subject.removeprefix("zen:ticket:"), "subject", required=True)

    raise BadRequest("ticket id missing: detail.id is required", field="detail.id")


def _subscribed_payload(
    body: dict[str, Any],
    detail: dict[str, Any],
    kind: str,
    ticket_id: int,
    actor_id: int | None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "source": "event",
        "ticket_id": ticket_id,
        "event_id": to_text(body.get("id")),
        "event_time": to_text(body.get("time")),
        "updated_at": to_text(detail.get("updated_at")),
        "actor_id": actor_id,
        "requester_id": to_id(detail.get("requester_id"), "detail.requester_id"),
        "organization_id": to_id(
            detail.get("organization_id"), "detail.organization_id"
        ),
        "status": to_enum(detail.get("status")),
        "priority": to_enum(detail.get("priority")),
    }
    change = body.get("event")
    if kind in _CHANGE_KINDS and isinstance(change, dict):
        payload["previous"] = _scalar(change.get("previous"))
        payload["current"] = _scalar(change.get("current"))

    return payload


def _ticket_key(ticket_id: int, updated_at: str | None, kind: str) -> tuple[str, ...]:
    if not updated_at:
        return ()

    return (f"ticket:{ticket_id}:{updated_at}:{kind}",)


def to_id(value: Any, name: str, *, required: bool = False) -> int | None:
    """A Zendesk id sent as a number or a digit string; "" and null mean none."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if required:
            raise BadRequest(f"ticket id missing: {name} is required", field=name)
        return None

    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value

    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return int(value)

    raise BadRequest(f"{name} must be a positive integer id", field=name)


def to_text(value: Any) -> str | None:
    """A short identifier string, or None when empty or not a string."""
    if not isinstance(value, str) or not value.strip():
        return None

    return value.strip()


def to_enum(value: Any) -> str | None:
    """A status or priority in lower case ("OPEN", "Open" -> "open")."""
    text = to_text(value)
    if text is None or text in _EMPTY_LABELS:
        return None

    return text.lower()


def _scalar(value: Any) -> str | int | None:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return value.lower() if isinstance(value, str) else value

    return None
