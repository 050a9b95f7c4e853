"""Zendesk Support API, through zenpy, in the project's vocabulary.

Reads a ticket with its requester, organization and (optionally) its history,
and writes one guarded update. zenpy's hazards are handled here:

- its object cache is off: a cached ticket or organization would be stale;
- it gets our own session, whose transport retries reads only, so an update
  whose answer was lost is never re-sent (it may carry an internal note);
- its 429 loop sleeps on Retry-After; the budget for that sleep is reset
  before every call (zenpy spends one budget over the client's lifetime);
- lazy attributes (``ticket.requester``) would issue hidden reads, so only raw
  ids are read, via ``to_dict()``;
- it builds ``https://{subdomain}.{domain}``: a local sandbox at
  ``https://127.0.0.1:PORT`` is reached by splitting that address at the first
  dot, without process-wide environment variables.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment as ZenpyComment
from zenpy.lib.api_objects import Ticket as ZenpyTicket
from zenpy.lib.exception import APIException, RatelimitBudgetExceeded, ZenpyException

from connector.errors import (
    AuthFailed,
    ConnectorError,
    NotFound,
    RateLimited,
    Rejected,
    UpdateConflict,
    UpstreamUnavailable,
)
from connector.http import connector_session, parse_retry_after
from rules.model import Comment, Organization, Requester, StatusChange, TicketFacts
from sidecar.errors import ConfigError

logger = logging.getLogger(__name__)

SYSTEM = "zendesk"
AGENT_ROLES = frozenset({"agent", "admin"})
SHOW_MANY_LIMIT = 100
# Zendesk's limits are per minute; used when a 429 names no Retry-After.
DEFAULT_RETRY_AFTER = 60.0

T = TypeVar("T")

_ENDPOINTS = (
    (re.compile(r"^tickets/\d+/audits$"), "audits"),
    (re.compile(r"^tickets/\d+$"), "ticket"),
    (re.compile(r"^users/me$"), "me"),
    (re.compile(r"^users/show_many$"), "users"),
    (re.compile(r"^users/\d+$"), "user"),
    (re.compile(r"^organizations/\d+$"), "organization"),
)


@dataclass(frozen=True)
class ZendeskSettings:
    """Where and how to reach Zendesk.

    ``base_url`` overrides ``https://{subdomain}.zendesk.com`` (the local
    sandbox); it must be https and its host must contain a dot.
    ``ratelimit_budget`` caps the seconds one call may sleep on 429s.
    """

    subdomain: str
    email: str
    token: str
    base_url: str | None = None
    ca_bundle: str | None = None
    timeout: float = 10.0
    ratelimit_budget: float = 60.0


class ZendeskConnector:
    """Reads tickets and writes guarded ticket updates."""

    def __init__(
        self, settings: ZendeskSettings, session: requests.Session | None = None
    ) -> None:
        _check_settings(settings)
        subdomain, domain = zenpy_host(settings)

        self._settings = settings
        self._session, self._recorder = connector_session(
            session, settings.ca_bundle, classify_call
        )
        self.calls = self._recorder.calls
        self._client = Zenpy(
            subdomain=subdomain,
            domain=domain,
            email=settings.email,
            token=settings.token,
            session=self._session,
            timeout=settings.timeout,
            ratelimit_budget=settings.ratelimit_budget,
            disable_cache=True,
        )

    def fetch_me(self) -> int:
        """Id of the API user (events it caused are the sidecar's own)."""
        return self._call("me", "me", lambda: int(self._client.users.me().id))

    def fetch_ticket(
        self, ticket_id: int, *, with_history: bool = False, with_people: bool = True
    ) -> TicketFacts:
        """The ticket with its requester, organization and, optionally, history.

        ``with_people=False`` skips the requester's and organization's records
        (the requester then has its id only): the SLA sweep needs neither.
        """
        raw = self._call(
            "ticket", ticket_id, lambda: self._client.tickets(id=ticket_id).to_dict()
        )

        requester_id = _opt_int(raw.get("requester_id"))
        org_id = _opt_int(raw.get("organization_id"))
        if with_people:
            requester = self._fetch_requester(requester_id)
            organization = self._fetch_organization(org_id) if org_id else None
        else:
            requester = Requester(id=requester_id or 0, organization_id=org_id)
            organization = None

        comments: tuple[Comment, ...] = ()
        changes: tuple[StatusChange, ...] = ()
        if with_history:
            comments, changes = self._fetch_history(ticket_id)

        return ticket_facts(raw, requester, organization, comments, changes)

    def fetch_history(self, ticket: TicketFacts) -> TicketFacts:
        """``ticket`` with its comments and status changes read (two calls)."""
        comments, changes = self._fetch_history(ticket.id)
        return replace(ticket, comments=comments, status_changes=changes)

    def update_ticket(
        self,
        ticket_id: int,
        *,
        updated_stamp: datetime,
        priority: str | None = None,
        group_id: int | None = None,
        tags: Sequence[str] | None = None,
        custom_fields: Sequence[tuple[int, object]] = (),
        note: str | None = None,
    ) -> datetime:
        """Write the given fields in one safe update; return the new updated_at.

        ``tags`` replaces the ticket's tags (safe_update makes that race-free).
        Raises UpdateConflict when the ticket changed after ``updated_stamp``.
        With nothing to write, no call is made and ``updated_stamp`` returns.
        """
        fields = update_fields(priority, group_id, tags, custom_fields)
        if not fields and not note:
            return updated_stamp

        ticket = ZenpyTicket(
            id=ticket_id,
            safe_update=True,
            updated_stamp=iso_utc(updated_stamp),
            **fields,
        )
        if note:
            ticket.comment = ZenpyComment(body=note, public=False)

        audit = self._call(
            "update", ticket_id, lambda: self._client.tickets.update(ticket)
        )
        return parse_time(audit.ticket.to_dict()["updated_at"])

    def fetch_satisfaction(
        self, start: datetime, end: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Satisfaction ratings (legacy CSAT) created from ``start`` to ``end``.

        One plain dict per ticket, ``{ticket_id, score, created_at}``, sorted by
        ticket id; a ticket listed twice keeps its latest rating. Scores are
        Zendesk's: good, bad, offered (asked, no answer yet), unoffered. The
        rating's comment is customer text and is never read. Zendesk lists
        ratings to admins only: an agent's token gets AuthFailed.
        """
        # Naive datetimes are taken as UTC; the API counts whole epoch seconds.
        start = parse_time(iso_utc(start))
        end = parse_time(iso_utc(end)) if end is not None else None
        raw = self._call(
            "satisfaction_ratings",
            int(start.timestamp()),
            lambda: self._list_satisfaction(start, end),
        )

        return [
            {
                "ticket_id": ticket_id,
                "score": str(rating.get("score") or "").lower(),
                "created_at": parse_time(rating["created_at"]),
            }
            for ticket_id, rating in sorted(self._latest_per_ticket(raw).items())
        ]

    def _list_satisfaction(
        self, start: datetime, end: datetime | None
    ) -> list[dict[str, Any]]:
        # Not one of the APIs `_call` refreshes: its 429 budget is reset here.
        api = self._client.satisfaction_ratings
        api.ratelimit_budget = int(self._settings.ratelimit_budget)
        return [r.to_dict() for r in api(start_time=start, end_time=end)]

    @staticmethod
    def _latest_per_ticket(
        ratings: list[dict[str, Any]],
    ) -> dict[int, dict[str, Any]]:
        """Each ticket's most recently updated rating; unusable records dropped."""
        latest: dict[int, tuple[datetime, dict[str, Any]]] = {}
        for rating in ratings:
            if rating.get("ticket_id") is None or not rating.get("created_at"):
                continue

            ticket_id = int(rating["ticket_id"])
            stamp = parse_time(rating.get("updated_at") or rating["created_at"])
            kept = latest.get(ticket_id)
            if kept is None or stamp >= kept[0]:
                latest[ticket_id] = (stamp, rating)

        return {ticket_id: rating for ticket_id, (_, rating) in latest.items()}

    def _fetch_requester(self, user_id: int | None) -> Requester:
        if user_id is None:
            return Requester(id=0)

        try:
            raw = self._call(
                "user", user_id, lambda: self._client.users(id=user_id).to_dict()
            )
        except NotFound:
            logger.warning("requester %s not found; using its id only", user_id)
            return Requester(id=user_id)

        return Requester(
            id=user_id,
            email=raw.get("email") or "",
            name=raw.get("name") or "",
            organization_id=_opt_int(raw.get("organization_id")),
        )

    def _fetch_organization(self, org_id: int) -> Organization | None:
        try:
            raw = self._call(
                "organization",
                org_id,
                lambda: self._client.organizations(id=org_id).to_dict(),
            )
        except NotFound:
            logger.warning("organization %s not found; ticket read without it", org_id)
            return None

        return Organization(
            id=org_id,
            name=raw.get("name") or "",
            tags=tuple(raw.get("tags") or ()),
            domain_names=tuple(d.lower() for d in raw.get("domain_names") or ()),
        )

    def _fetch_history(
        self, ticket_id: int
    ) -> tuple[tuple[Comment, ...], tuple[StatusChange, ...]]:
        audits = self._call(
            "audits",
            ticket_id,
            lambda: [
                a.to_dict() for a in self._client.tickets.audits(ticket=ticket_id)
            ],
        )

        comments, changes = history_from_audits(audits)
        roles = self._fetch_roles(sorted({c.author_id for c in comments}))
        comments = [_with_role(c, roles.get(c.author_id)) for c in comments]
        return tuple(comments), tuple(changes)

    def _fetch_roles(self, user_ids: list[int]) -> dict[int, str]:
        roles: dict[int, str] = {}
        for start in range(0, len(user_ids), SHOW_MANY_LIMIT):
            chunk = user_ids[start : start + SHOW_MANY_LIMIT]
            users = self._call(
                "users",
                chunk[0],
                lambda chunk=chunk: [
                    u.to_dict() for u in self._client.users(ids=chunk)
                ],
            )
            roles.update({int(u["id"]): u.get("role") or "" for u in users})

        return roles

    def _call(self, what: str, ident: object, fn: Callable[[], T]) -> T:
        """Run one zenpy call with a fresh 429 budget; translate its failures."""
        self._reset_budget()
        self._recorder.reset_retry_after()

        try:
            return fn()
        except (ZenpyException, APIException, requests.RequestException) as exc:
            error = self._translate(exc, what, ident)
            if error.transient:
                logger.warning("zendesk %s %s failed: %s", what, ident, error.code)
            raise error from exc

    def _reset_budget(self) -> None:
        budget = int(self._settings.ratelimit_budget)
        for api in (
            self._client.tickets,
            self._client.users,
            self._client.organizations,
        ):
            api.ratelimit_budget = budget

    def _translate(self, exc: Exception, what: str, ident: object) -> ConnectorError:
        if isinstance(exc, RatelimitBudgetExceeded):
            retry_after = self._recorder.last_retry_after() or DEFAULT_RETRY_AFTER
            return RateLimited(
                f"zendesk {what} {ident}: rate limit budget spent",
                system=SYSTEM,
                retry_after=retry_after,
            )

        response = getattr(exc, "response", None)
        if isinstance(exc, APIException | requests.HTTPError) and response is not None:
            return error_for_status(response, f"zendesk {what} {ident}")

        if isinstance(exc, requests.RequestException):
            name = type(exc).__name__
            return UpstreamUnavailable(f"zendesk {what} {ident}: {name}", system=SYSTEM)

        return ConnectorError(
            f"zendesk {what} {ident}: unreadable answer", system=SYSTEM
        )


def error_for_status(response: requests.Response, context: str) -> ConnectorError:
    """The connector error for a refused Zendesk request, by HTTP status."""
    status = response.status_code
    message = f"{context}: HTTP {status}"

    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return RateLimited(
            message, system=SYSTEM, retry_after=retry_after or DEFAULT_RETRY_AFTER
        )

    by_status: dict[int, type[ConnectorError]] = {
        401: AuthFailed,
        403: AuthFailed,
        404: NotFound,
        409: UpdateConflict,
    }
    if status in by_status:
        return by_status[status](message, system=SYSTEM)

    if status >= 500:
        return UpstreamUnavailable(message, system=SYSTEM)

    return Rejected(message, system=SYSTEM)


def update_fields(
    priority: str | None,
    group_id: int | None,
    tags: Sequence[str] | None,
    custom_fields: Sequence[tuple[int, object]],
) -> dict[str, Any]:
    """The ticket attributes to send; only those given, custom fields as fresh dicts.

    Fresh dicts rather than zenpy's CustomField objects: appending those to a
    read ticket's list can send a stale entry next to the new one.
    """
    fields: dict[str, Any] = {}
    if priority is not None:
        fields["priority"] = priority

    if group_id is not None:
        fields["group_id"] = group_id

    if tags is not None:
        fields["tags"] = list(dict.fromkeys(tags))

    if custom_fields:
        latest = dict(custom_fields)
        fields["custom_fields"] = [{"id": k, "value": v} for k, v in latest.items()]

    return fields


def ticket_facts(
    raw: dict[str, Any],
    requester: Requester,
    organization: Organization | None,
    comments: tuple[Comment, ...],
    changes: tuple[StatusChange, ...],
) -> TicketFacts:
    """TicketFacts from a raw ticket dict and what was fetched beside it."""
    custom = tuple(
        (int(f["id"]), f.get("value")) for f in raw.get("custom_fields") or ()
    )
    via = raw.get("via") or {}

    return TicketFacts(
        id=int(raw["id"]),
        subject=raw.get("subject") or "",
        description=raw.get("description") or "",
        status=raw.get("status") or "",
        priority=raw.get("priority"),
        type=raw.get("type"),
        tags=tuple(raw.get("tags") or ()),
        group_id=_opt_int(raw.get("group_id")),
        assignee_id=_opt_int(raw.get("assignee_id")),
        requester=requester,
        organization=organization,
        created_at=parse_time(raw["created_at"]),
        updated_at=parse_time(raw["updated_at"]),
        custom_fields=custom,
        comments=comments,
        status_changes=changes,
        via_channel=via.get("channel") or "",
    )


def history_from_audits(
    audits: Sequence[dict[str, Any]],
) -> tuple[list[Comment], list[StatusChange]]:
    """Comments and status changes from a ticket's audits, in time order."""
    comments: list[Comment] = []
    changes: list[StatusChange] = []

    for audit in sorted(audits, key=lambda a: (parse_time(a["created_at"]), a["id"])):
        at = parse_time(audit["created_at"])
        channel = (audit.get("via") or {}).get("channel") or ""
        for event in audit.get("events") or ():
            kind = event.get("type")
            when = parse_time(event["created_at"]) if event.get("created_at") else at
            if kind == "Comment":
                comments.append(_comment(event, audit, when, channel))
            elif kind in ("Create", "Change") and event.get("field_name") == "status":
                if event.get("value"):
                    changes.append(StatusChange(at=when, status=str(event["value"])))

    comments.sort(key=lambda c: c.created_at)
    changes.sort(key=lambda c: c.at)
    return comments, changes


def _comment(
    event: dict[str, Any], audit: dict[str, Any], at: datetime, channel: str
) -> Comment:
    author = event.get("author_id") or audit.get("author_id") or 0
    return Comment(
        id=int(event["id"]),
        author_id=int(author),
        created_at=at,
        public=bool(event.get("public", True)),
        body=event.get("plain_body") or event.get("body") or "",
        channel=channel,
    )


def _with_role(comment: Comment, role: str | None) -> Comment:
    by_agent = role in AGENT_ROLES
    if by_agent == comment.by_agent:
        return comment

    return Comment(
        id=comment.id,
        author_id=comment.author_id,
        created_at=comment.created_at,
        public=comment.public,
        body=comment.body,
        by_agent=by_agent,
        channel=comment.channel,
    )


def classify_call(method: str, path_url: str) -> str | None:
    """The statistics key of one request, e.g. ``"GET ticket"``."""
    path = path_url.split("?", 1)[0].removeprefix("/api/v2/").removesuffix(".json")
    for pattern, name in _ENDPOINTS:
        if pattern.match(path):
            return f"{method} {name}"

    return f"{method} {path.split('/', 1)[0]}"


def zenpy_host(settings: ZendeskSettings) -> tuple[str, str]:
    """The (subdomain, domain) pair that makes zenpy build the wanted host."""
    if settings.base_url is None:
        return settings.subdomain, "zendesk.com"

    parts = urlsplit(settings.base_url)
    if (
        parts.scheme != "https"
        or parts.path not in ("", "/")
        or "." not in parts.netloc
    ):
        raise ConfigError(
            "zendesk base_url must be https://HOST[:PORT] with a dot in HOST "
            "(zenpy always speaks https to subdomain.domain)"
        )

    subdomain, _, domain = parts.netloc.partition(".")
    return subdomain, domain


def _check_settings(settings: ZendeskSettings) -> None:
    missing = [
        name for name in ("subdomain", "email", "token") if not getattr(settings, name)
    ]
    if missing:
        raise ConfigError(f"zendesk settings: missing {', '.join(missing)}")

    if settings.timeout <= 0 or settings.ratelimit_budget < 0:
        raise ConfigError(
            "zendesk settings: timeout must be > 0, ratelimit_budget >= 0"
        )


def parse_time(value: str) -> datetime:
    """An aware UTC datetime from Zendesk's ISO-8601 text."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)

    return parsed.astimezone(UTC)


def iso_utc(value: datetime) -> str:
    """Zendesk's timestamp spelling; naive datetimes are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)

    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _opt_int(value: object) -> int | None:
    if value is None or value == "":
        return None

    return int(value)  # type: ignore[call-overload]
