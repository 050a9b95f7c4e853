"""Zendesk ticket behaviour: create, update, comments and audits, as Zendesk does.

The rules that matter to the sidecar are kept faithful: an update REPLACES the
tag list, merges custom fields by id, refuses a closed ticket (422), refuses a
stale ``safe_update`` (409) and always moves ``updated_at`` forward by at least
one second (Zendesk's timestamps have one-second resolution).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sidecar.sandbox.state import SandboxState, format_time, parse_time

FIRST_TICKET_ID = 1001
STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("urgent", "high", "normal", "low")
TYPES = ("problem", "incident", "question", "task")

# Fields recorded as Create events when a ticket is born, in Zendesk's order.
CREATE_FIELDS = (
    "subject",
    "requester_id",
    "priority",
    "type",
    "status",
    "organization_id",
    "group_id",
    "assignee_id",
    "tags",
)

CONFLICT_BODY = {
    "error": "UpdateConflict",
    "description": "Safe Update prevented the update due to outdated ticket data. "
    "Please fetch the latest ticket data and try again.",
}
CLOSED_BODY = {
    "error": "RecordInvalid",
    "description": "Record validation errors",
    "details": {"status": [{"description": "Status: closed prevents ticket update"}]},
}
NOT_FOUND_BODY = {"error": "RecordNotFound", "description": "Not found"}


class ApiError(Exception):
    """A Zendesk error answer: HTTP status and its JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("error", "error"))
        self.status = status
        self.body = body


@dataclass
class Change:
    """What one create or update did; the webhook sender renders it."""

    ticket_id: int
    actor_id: int
    created: bool
    ticket: dict[str, Any]
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    comment: dict[str, Any] | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.created or self.changes or self.comment)


def get_ticket(state: SandboxState, ticket_id: int) -> dict[str, Any]:
    """The stored ticket (not a copy: hold ``state.lock``), or a 404 ApiError."""
    ticket = state.tickets.get(ticket_id)
    if ticket is None:
        raise ApiError(404, NOT_FOUND_BODY)

    return ticket


def next_updated_at(previous: str | None, now: datetime) -> str:
    """``now`` to the second, but always later than ``previous``."""
    moment = now.replace(microsecond=0)
    if previous is not None:
        floor = parse_time(previous) + timedelta(seconds=1)
        moment = max(moment, floor)

    return format_time(moment)


def create_ticket(
    state: SandboxState, payload: dict[str, Any], actor_id: int, now: datetime
) -> tuple[dict[str, Any], dict[str, Any], Change]:
    """Create a ticket from a ``{"ticket": {...}}`` body; return ticket, audit."""
    data = payload.get("ticket") or {}
    body = _comment_text(data)
    if not data.get("subject") and not body:
        raise ApiError(422, _invalid("description", "Description: cannot be blank"))

    with state.lock:
        requester = _resolve_requester(state, data, actor_id)
        ticket = _new_ticket(state, data, requester, body, now)
        comment = _comment(state, ticket, body, True, requester["id"], now)
        events = [comment] + [
            _create_event(state, name, ticket.get(name)) for name in CREATE_FIELDS
        ]
        audit = _audit(state, ticket, requester["id"], events, now)
        state.tickets[ticket["id"]] = ticket

    change = Change(ticket["id"], requester["id"], True, dict(ticket), {}, comment)
    return dict(ticket), audit, change


def update_ticket(
    state: SandboxState,
    ticket_id: int,
    payload: dict[str, Any],
    actor_id: int,
    now: datetime,
) -> tuple[dict[str, Any], dict[str, Any], Change]:
    """Apply a ``PUT /tickets/{id}`` body; return ticket, audit and the change."""
    data = payload.get("ticket") or {}
    with state.lock:
        ticket = get_ticket(state, ticket_id)
        _check_writable(ticket, data)
        changes = _apply_fields(ticket, data)
        comment = _apply_comment(state, ticket, data, actor_id, now)
        events = [comment] if comment else []
        for name, (old, new) in changes.items():
            events.append(_change_event(state, name, old, new))

        if events:
            previous = ticket["updated_at"]
            ticket["updated_at"] = next_updated_at(previous, now)

        audit = _audit(state, ticket, actor_id, events, now) if events else {}
        snapshot = dict(ticket)

    change = Change(ticket_id, actor_id, False, snapshot, changes, comment)
    return snapshot, audit, change


def _check_writable(ticket: dict[str, Any], data: dict[str, Any]) -> None:
    if ticket["status"] == "closed":
        raise ApiError(422, CLOSED_BODY)

    stamp = data.get("updated_stamp")
    if "safe_update" in data and stamp:
        try:
            stale = parse_time(str(stamp)) != parse_time(ticket["updated_at"])
        except ValueError:
            stale = True

        if stale:
            raise ApiError(409, CONFLICT_BODY)

    status = data.get("status")
    if status is not None and status not in STATUSES:
        raise ApiError(422, _invalid("status", f"Status: {status} is not valid"))

    priority = data.get("priority")
    if priority is not None and priority not in PRIORITIES:
        raise ApiError(422, _invalid("priority", "Priority: is not valid"))


def _apply_fields(
    ticket: dict[str, Any], data: dict[str, Any]
) -> dict[str, tuple[Any, Any]]:
    changes: dict[str, tuple[Any, Any]] = {}
    for name in ("priority", "group_id", "assignee_id", "status", "type", "subject"):
        if name in data and data[name] != ticket.get(name):
            changes[name] = (ticket.get(name), data[name])
            ticket[name] = data[name]

    if "tags" in data:
        tags = normalise_tags(data["tags"] or [])
        if tags != ticket["tags"]:
            changes["tags"] = (ticket["tags"], tags)
            ticket["tags"] = tags

    for item in data.get("custom_fields") or []:
        _merge_custom_field(ticket, item, changes)

    return changes


def _merge_custom_field(
    ticket: dict[str, Any], item: dict[str, Any], changes: dict[str, tuple[Any, Any]]
) -> None:
    field_id = int(item["id"])
    current = {f["id"]: f for f in ticket["custom_fields"]}
    previous = current.get(field_id, {}).get("value")
    if previous == item.get("value"):
        return

    current[field_id] = {"id": field_id, "value": item.get("value")}
    ticket["custom_fields"] = sorted(current.values(), key=lambda f: f["id"])
    ticket["fields"] = [dict(f) for f in ticket["custom_fields"]]
    changes[str(field_id)] = (previous, item.get("value"))


def _apply_comment(
    state: SandboxState,
    ticket: dict[str, Any],
    data: dict[str, Any],
    actor_id: int,
    now: datetime,
) -> dict[str, Any] | None:
    raw = data.get("comment")
    if not isinstance(raw, dict):
        return None

    body = _comment_text({"comment": raw})
    if not body:
        return None

    author_id = int(raw.get("author_id") or actor_id)
    public = bool(raw.get("public", True))
    return _comment(state, ticket, body, public, author_id, now)


def normalise_tags(tags: list[str] | str) -> list[str]:
    """Zendesk's tag rules: lower case, no spaces, no duplicates, order kept."""
    items = tags.split() if isinstance(tags, str) else tags
    seen: list[str] = []
    for tag in items:
        clean = str(tag).strip().lower().replace(" ", "_")
        if clean and clean not in seen:
            seen.append(clean)

    return seen


def _resolve_requester(
    state: SandboxState, data: dict[str, Any], actor_id: int
) -> dict[str, Any]:
    if data.get("requester_id"):
        user = state.users.get(int(data["requester_id"]))
        if user is None:
            raise ApiError(422, _invalid("requester", "Requester: is invalid"))
        return user

    requester = data.get("requester") or {}
    email = (requester.get("email") or "").strip()
    if not email:
        return state.users[actor_id]

    return state.find_user_by_email(email) or add_end_user(
        state, email, requester.get("name") or email.split("@")[0]
    )


def add_end_user(state: SandboxState, email: str, name: str) -> dict[str, Any]:
    """Create an end user; the organization follows the email's domain."""
    domain = email.rsplit("@", 1)[-1]
    organization = state.find_organization_for_domain(domain)
    user = {
        "id": state.new_id(),
        "name": name,
        "email": email,
        "role": "end-user",
        "organization_id": organization["id"] if organization else None,
        "time_zone": "Asia/Jakarta",
        "tags": [],
        "user_fields": {},
        "active": True,
        "verified": False,
        "external_id": None,
    }
    state.users[user["id"]] = user
    return user


def _new_ticket(
    state: SandboxState,
    data: dict[str, Any],
    requester: dict[str, Any],
    body: str,
    now: datetime,
) -> dict[str, Any]:
    ticket_id = max([FIRST_TICKET_ID - 1, *state.tickets]) + 1
    stamp = format_time(now)
    custom = [
        {"id": int(f["id"]), "value": f.get("value")}
        for f in data.get("custom_fields") or []
    ]
    return {
        "url": f"{state.base_url}/api/v2/tickets/{ticket_id}.json",
        "id": ticket_id,
        "external_id": data.get("external_id"),
        "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
        "created_at": stamp,
        "updated_at": stamp,
        "type": data.get("type"),
        "subject": data.get("subject") or body[:60],
        "raw_subject": data.get("subject") or body[:60],
        "description": body,
        "priority": data.get("priority"),
        "status": data.get("status") or "new",
        "recipient": None,
        "requester_id": requester["id"],
        "submitter_id": requester["id"],
        "assignee_id": data.get("assignee_id"),
        "organization_id": requester.get("organization_id"),
        "group_id": data.get("group_id"),
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": None,
        "problem_id": None,
        "has_incidents": False,
        "is_public": True,
        "due_at": None,
        "tags": normalise_tags(data.get("tags") or []),
        "custom_fields": custom,
        "satisfaction_rating": None,
        "sharing_agreement_ids": [],
        "fields": [dict(f) for f in custom],
        "followup_ids": [],
        "brand_id": 360000000001,
        "allow_channelback": False,
        "allow_attachments": True,
        "from_messaging_channel": False,
    }


def _comment(
    state: SandboxState,
    ticket: dict[str, Any],
    body: str,
    public: bool,
    author_id: int,
    now: datetime,
) -> dict[str, Any]:
    paragraphs = "".join(
        f'<p dir="auto">{html.escape(line)}</p>' for line in body.split("\n") if line
    )
    comment = {
        "id": state.new_id(),
        "type": "Comment",
        "author_id": author_id,
        "body": body,
        "html_body": f'<div class="zd-comment" dir="auto">{paragraphs}</div>',
        "plain_body": body,
        "public": public,
        "attachments": [],
        "created_at": format_time(now),
        "via": {"channel": "web" if author_id != state.api_user_id else "api"},
    }
    state.comments.setdefault(ticket["id"], []).append(comment)
    return comment


def _audit(
    state: SandboxState,
    ticket: dict[str, Any],
    author_id: int,
    events: list[dict[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    audit_id = state.new_id()
    for event in events:
        if event["type"] == "Comment":
            event["audit_id"] = audit_id

    channel = "api" if author_id == state.api_user_id else "web"
    audit = {
        "id": audit_id,
        "ticket_id": ticket["id"],
        "created_at": max(format_time(now), ticket["updated_at"]),
        "author_id": author_id,
        "metadata": {"system": {"client": "vip-sidecar sandbox"}, "custom": {}},
        "events": events,
        "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
    }
    state.audits.setdefault(ticket["id"], []).append(audit)
    return audit


def _create_event(state: SandboxState, name: str, value: Any) -> dict[str, Any]:
    return {
        "id": state.new_id(),
        "type": "Create",
        "field_name": name,
        "value": _event_value(value),
    }


def _change_event(state: SandboxState, name: str, old: Any, new: Any) -> dict[str, Any]:
    return {
        "id": state.new_id(),
        "type": "Change",
        "field_name": name,
        "value": _event_value(new),
        "previous_value": _event_value(old),
    }


def _event_value(value: Any) -> Any:
    """Audit events carry ids and numbers as strings, lists as lists."""
    if value is None or isinstance(value, list | str | bool):
        return value

    return str(value)


def _comment_text(data: dict[str, Any]) -> str:
    comment = data.get("comment")
    if isinstance(comment, dict):
        return str(comment.get("body") or comment.get("html_body") or "")

    return str(data.get("description") or "")


def _invalid(name: str, message: str) -> dict[str, Any]:
    return {
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": {name: [{"description": message}]},
    }
