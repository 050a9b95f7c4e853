"""The project's vocabulary: frozen facts about tickets and accounts.

Connectors translate vendor payloads into these types; rules read only these.
All datetimes are timezone-aware and in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Severity = Literal["P1", "P2", "P3"]
SEVERITIES: tuple[Severity, ...] = ("P1", "P2", "P3")

# Zendesk's own priority values, most urgent first.
PRIORITIES: tuple[str, ...] = ("urgent", "high", "normal", "low")


@dataclass(frozen=True)
class Comment:
    """One comment on a ticket, as the sidecar needs it."""

    id: int
    author_id: int
    created_at: datetime
    public: bool
    body: str = ""
    by_agent: bool = False
    channel: str = ""


@dataclass(frozen=True)
class StatusChange:
    """The ticket entered ``status`` at ``at`` (from the ticket's audits)."""

    at: datetime
    status: str


@dataclass(frozen=True)
class Requester:
    id: int
    email: str = ""
    name: str = ""
    organization_id: int | None = None


@dataclass(frozen=True)
class Organization:
    id: int
    name: str = ""
    tags: tuple[str, ...] = ()
    domain_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class TicketFacts:
    """A Zendesk ticket with what the rules need to decide on it.

    ``comments`` and ``status_changes`` are in time order; they may be empty
    when the history was not fetched (a ticket that is not a VIP candidate).
    ``custom_fields`` maps field id to value.
    """

    id: int
    subject: str
    description: str
    status: str
    priority: str | None
    type: str | None
    tags: tuple[str, ...]
    group_id: int | None
    assignee_id: int | None
    requester: Requester
    organization: Organization | None
    created_at: datetime
    updated_at: datetime
    custom_fields: tuple[tuple[int, object], ...] = ()
    comments: tuple[Comment, ...] = ()
    status_changes: tuple[StatusChange, ...] = ()
    via_channel: str = ""

    def custom_field(self, field_id: int) -> object:
        for key, value in self.custom_fields:
            if key == field_id:
                return value

        return None


@dataclass(frozen=True)
class AccountFacts:
    """What the CRM knows about the requester's account.

    ``lookup`` says how the account was found (``email``, ``domain``) or why
    not (``none``, ``free_mail``, ``ambiguous``, ``error``). ``freshness`` is
    ``live``, ``cached`` or ``stale`` (a cached value served while the CRM
    failed).
    """

    account_id: str | None = None
    name: str = ""
    tier: str | None = None
    contract_value: float | None = None
    owner_name: str = ""
    owner_email: str = ""
    calendar: str | None = None
    lookup: str = "none"
    freshness: str = "live"
    candidates: tuple[str, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class TierDecision:
    """The ticket's tier (None: not a VIP) and every source that said so."""

    tier: str | None
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class SeverityDecision:
    level: Severity
    reasons: tuple[str, ...] = ()
    raised_by_frustration: bool = False


@dataclass(frozen=True)
class FrustrationResult:
    """Frustration over a ticket's customer messages.

    ``scores`` has one score in [0, 1] per customer message, in order;
    ``score`` is the ticket's current level and ``trend`` the change across
    messages (positive: getting angrier).
    """

    score: float = 0.0
    trend: float = 0.0
    scores: tuple[float, ...] = ()
    languages: tuple[str, ...] = ()
    escalate: bool = False
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlaTargets:
    """Targets in seconds for one severity and tier (None: no target)."""

    first_response: int | None
    next_update: int | None
    resolution: int | None
    periodic_update: int | None = None


@dataclass(frozen=True)
class Decision:
    """What the sidecar wants the ticket to look like, and why."""

    ticket_id: int
    tier: TierDecision
    severity: SeverityDecision | None
    frustration: FrustrationResult | None
    priority: str | None
    group_id: int | None
    tags_add: tuple[str, ...] = ()
    tags_remove: tuple[str, ...] = ()
    custom_fields: tuple[tuple[int, object], ...] = ()
    note: str = ""
    targets: SlaTargets | None = None
    due: tuple[tuple[str, datetime], ...] = field(default=())

    @property
    def is_vip(self) -> bool:
        return self.tier.tier is not None
