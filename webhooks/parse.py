"""Zendesk webhook bodies turned into inbox events: identifiers only.

Two shapes arrive. A trigger-connected webhook sends the body the admin wrote
from placeholders: every value is a string, status and priority are display
labels ("Open", "Urgent"), and an empty placeholder renders as "". An
event-subscribed webhook sends ``zen:event-type:ticket.*`` with a ``detail``
snapshot whose ids are strings and whose enums are UPPERCASE.

Only ids, timestamps and enums are kept. Subject, description, comments and
emails are never read into the payload: the worker re-fetches what it needs.

Every kept value is bounded before it reaches the store: ids are ASCII digits
from 1 to 2**63 - 1 (a signed 64-bit column), timestamps are ISO-8601 of at
most 64 characters, event ids and enums are short printable text. Anything else
is a BadRequest naming the field, never an error deeper down.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
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

# Ids go into signed 64-bit columns; 19 digits is the most that can fit.
MAX_ID = 2**63 - 1
_MAX_ID_DIGITS = len(str(MAX_ID))
MAX_TEXT_CHARS = 64
# Status labels may be custom statuses named by an admin: a little more room.
MAX_LABEL_CHARS = 128

# str.isdigit() also says yes to "²", Arabic-Indic and fullwidth digits.
_ASCII_ID = re.compile(r"[0-9]{1,19}")
_EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_EVENT_TYPE = re.compile(r"[a-z0-9_.]{1,64}")


class _OversizedNumber:
    """Stands in for a JSON integer too long to be an id (never converted)."""


_OVERSIZED = _OversizedNumber()


def _parse_int(text: str) -> int | _OversizedNumber:
    # A 10,000-digit literal would hit Python's int conversion limit (and cost
    # quadratic time); no field the sidecar reads needs more than 20 digits.
    if len(text.lstrip("-")) > _MAX_ID_DIGITS + 1:
        return _OVERSIZED

    return int(text)


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
        kind = event_type.removeprefix(EVENT_TYPE_PREFIX)
        return parse_subscribed_event(body, kind)

    return parse_trigger(body)


def load_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or BadRequest saying why not."""
    try:
        body = json.loads(raw, parse_int=_parse_int)
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad UTF-8 and bad JSON; RecursionError is nesting
        # deeper than the interpreter allows.
        raise BadRequest("body is not valid JSON", field="body") from exc

    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object", field="body")

    return body


def parse_trigger(body: dict[str, Any]) -> ParsedEvent:
    """The trigger-connected body (all values are rendered placeholder strings)."""
    ticket_id = to_id(body.get("ticket_id"), "ticket_id", required=True)
    updated_at = to_timestamp(body.get("ticket_updated_at"), "ticket_updated_at")
    actor_id = to_id(body.get("current_user_id"), "current_user_id")
    payload = {
        "source": "trigger",
        "ticket_id": ticket_id,
        "updated_at": updated_at,
        "actor_id": actor_id,
        "requester_id": to_id(body.get("requester_id"), "requester_id"),
        "organization_id": to_id(body.get("organization_id"), "organization_id"),
        "status": to_enum(body.get("status"), "status"),
        "priority": to_enum(body.get("priority"), "priority"),
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
        # The type is logged, so only a plausible event name is kept.
        known = _EVENT_TYPE.fullmatch(kind) is not None
        return IgnoredEvent(event_type=kind if known else "unrecognised")

    detail = body.get("detail")
    if not isinstance(detail, dict):
        raise BadRequest("detail must be an object", field="detail")

    ticket_id = _subscribed_ticket_id(body, detail)
    event_id = to_event_id(body.get("id"), "id")
    updated_at = to_timestamp(detail.get("updated_at"), "detail.updated_at")
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
        "event_id": to_event_id(body.get("id"), "id"),
        "event_time": to_timestamp(body.get("time"), "time"),
        "updated_at": to_timestamp(detail.get("updated_at"), "detail.updated_at"),
        "actor_id": actor_id,
        "requester_id": to_id(detail.get("requester_id"), "detail.requester_id"),
        "organization_id": to_id(
            detail.get("organization_id"), "detail.organization_id"
        ),
        "status": to_enum(detail.get("status"), "detail.status"),
        "priority": to_enum(detail.get("priority"), "detail.priority"),
    }
    change = body.get("event")
    if kind in _CHANGE_KINDS and isinstance(change, dict):
        payload["previous"] = _scalar(change.get("previous"), "event.previous")
        payload["current"] = _scalar(change.get("current"), "event.current")

    return payload


def _ticket_key(ticket_id: int, updated_at: str | None, kind: str) -> tuple[str, ...]:
    if not updated_at:
        return ()

    return (f"ticket:{ticket_id}:{updated_at}:{kind}",)


def to_id(value: Any, name: str, *, required: bool = False) -> int | None:
    """A Zendesk id sent as a number or an ASCII digit string; "" and null: none.

    Accepted ids run from 1 to 2**63 - 1; "²", other scripts' digits, signs and
    anything longer than 19 digits are refused before any conversion.
    """
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if required:
            raise BadRequest(f"ticket id missing: {name} is required", field=name)
        return None

    number = _id_number(value)
    if number is None or not 0 < number <= MAX_ID:
        raise BadRequest(
            f"{name} must be a positive integer id up to 2**63-1", field=name
        )

    return number


def _id_number(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value

    if isinstance(value, str) and _ASCII_ID.fullmatch(value.strip()):
        return int(value.strip())

    return None


def to_text(value: Any) -> str | None:
    """A stripped string, or None when empty or not a string."""
    if not isinstance(value, str) or not value.strip():
        return None

    return value.strip()


def to_bounded_text(value: Any, name: str, limit: int = MAX_TEXT_CHARS) -> str | None:
    """Like to_text, but refusing text over ``limit`` characters or not printable
    (control characters and lone surrogates cannot be stored)."""
    text = to_text(value)
    if text is None:
        return None

    if len(text) > limit or not text.isprintable():
        raise BadRequest(
            f"{name} must be printable text of at most {limit} characters",
            field=name,
        )

    return text


def to_timestamp(value: Any, name: str) -> str | None:
    """An ISO-8601 timestamp kept as sent (it is part of a dedupe key)."""
    text = to_bounded_text(value, name)
    if text is None:
        return None

    if not text.isascii() or not _is_iso_datetime(text):
        raise BadRequest(f"{name} must be an ISO-8601 timestamp", field=name)

    return text


def _is_iso_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False

    return True


def to_event_id(value: Any, name: str) -> str | None:
    """A Zendesk event id (a UUID in practice): short, ASCII, no spaces."""
    text = to_text(value)
    if text is None:
        return None

    if _EVENT_ID.fullmatch(text) is None:
        raise BadRequest(
            f"{name} must be at most {MAX_TEXT_CHARS} ASCII letters, digits or "
            "'.', '_', ':', '-'",
            field=name,
        )

    return text


def to_enum(value: Any, name: str = "value") -> str | None:
    """A status or priority in lower case ("OPEN", "Open" -> "open")."""
    text = to_bounded_text(value, name, MAX_LABEL_CHARS)
    if text is None or text in _EMPTY_LABELS:
        return None

    return text.lower()


def _scalar(value: Any, name: str) -> str | int | None:
    """A change's previous or current value: an enum or an id, else None."""
    if isinstance(value, str):
        return to_enum(value, name)

    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= MAX_ID:
            raise BadRequest(f"{name} must be an id up to 2**63-1", field=name)

        return value

    return None
