"""The sandbox's in-memory world: Zendesk and Salesforce records behind one lock.

Everything a request handler, an admin call or the webhook sender touches
lives here. Callers hold ``state.lock`` while they read or change records;
the lock is re-entrant so nested calls are safe.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ZENDESK_TIME = "%Y-%m-%dT%H:%M:%SZ"

# Open SOQL cursors kept before the oldest is forgotten.
MAX_QUERY_CURSORS = 1000


def format_time(moment: datetime) -> str:
    """Zendesk's timestamp spelling: UTC, whole seconds, a trailing Z."""
    return moment.astimezone(UTC).strftime(ZENDESK_TIME)


def parse_time(text: str) -> datetime:
    """Read a Zendesk or ISO-8601 timestamp (``Z`` or an offset) as aware UTC."""
    cleaned = text.strip().replace("Z", "+00:00")
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)

    return moment.astimezone(UTC)


@dataclass
class Fault:
    """An injected failure for the next ``count`` calls of one route."""

    route: str
    status: int = 0
    retry_after: int | None = None
    count: int = 1
    body: str = "json"
    delay: float = 0.0

    def matches(self, route: str) -> bool:
        return self.count > 0 and self.route in (route, "*")


@dataclass
class SandboxState:
    """Records of both vendors plus the sandbox's own bookkeeping."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    base_url: str = ""
    account_id: int = 12345678
    api_user_id: int = 0
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    organizations: dict[int, dict[str, Any]] = field(default_factory=dict)
    groups: dict[int, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    audits: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # Legacy CSAT: at most one rating per ticket, keyed by ticket id.
    satisfaction_ratings: dict[int, dict[str, Any]] = field(default_factory=dict)
    sf_users: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    sf_custom_fields: dict[str, list[str]] = field(default_factory=dict)
    tokens: dict[str, datetime] = field(default_factory=dict)
    query_cursors: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    calls: Counter[str] = field(default_factory=Counter)
    faults: list[Fault] = field(default_factory=list)
    webhook_attempts: list[dict[str, Any]] = field(default_factory=list)
    sf_api_usage: int = 0
    _next_id: int = 1
    _minute: int = 0
    _minute_calls: int = 0

    def new_id(self) -> int:
        """A fresh id for tickets' audits, comments and events."""
        with self.lock:
            self._next_id += 1
            return self._next_id

    def load_seed(self, seed: dict[str, Any], api_user_email: str) -> None:
        """Replace every record with the seed's (see :mod:`.seed` for its shape)."""
        zendesk = seed.get("zendesk", {})
        salesforce = seed.get("salesforce", {})
        with self.lock:
            self.account_id = int(zendesk.get("account_id", self.account_id))
            self.users = {int(u["id"]): _user(u) for u in zendesk.get("users", [])}
            self.organizations = {
                int(o["id"]): _organization(o) for o in zendesk.get("organizations", [])
            }
            self.groups = {int(g["id"]): dict(g) for g in zendesk.get("groups", [])}
            self.tickets, self.comments, self.audits = {}, {}, {}
            self.satisfaction_ratings = {}
            self._pick_api_user(zendesk, api_user_email)

            self.sf_users = _by_id(salesforce.get("users", []))
            self.accounts = _by_id(salesforce.get("accounts", []))
            self.contacts = _by_id(salesforce.get("contacts", []))
            self.sf_custom_fields = {
                name: list(fields)
                for name, fields in salesforce.get("custom_fields", {}).items()
            }
            self.query_cursors.clear()

            known = [*self.users, *self.organizations, *self.groups, 0]
            self._next_id = max(self._next_id, max(known) + 1)

    def _pick_api_user(self, zendesk: dict[str, Any], email: str) -> None:
        api_user_id = zendesk.get("api_user_id")
        if api_user_id is None:
            admins = [u for u in self.users.values() if u["role"] == "admin"]
            api_user_id = admins[0]["id"] if admins else 0

        self.api_user_id = int(api_user_id)
        if self.api_user_id in self.users:
            self.users[self.api_user_id]["email"] = email

    def find_user_by_email(self, email: str) -> dict[str, Any] | None:
        wanted = email.strip().lower()
        with self.lock:
            for user in self.users.values():
                if (user.get("email") or "").lower() == wanted:
                    return user

        return None

    def find_organization_for_domain(self, domain: str) -> dict[str, Any] | None:
        wanted = domain.strip().lower()
        with self.lock:
            for organization in self.organizations.values():
                names = [d.lower() for d in organization.get("domain_names", [])]
                if wanted in names:
                    return organization

        return None

    def record_call(self, route: str) -> int:
        """Count one API call; return the calls made in the current minute."""
        minute = int(time.time() // 60)
        with self.lock:
            self.calls[route] += 1
            if minute != self._minute:
                self._minute, self._minute_calls = minute, 0

            self._minute_calls += 1
            return self._minute_calls

    def minute_calls(self) -> int:
        with self.lock:
            return self._minute_calls

    def take_fault(self, route: str) -> Fault | None:
        """Consume one use of the first fault that matches ``route``."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(route):
                    fault.count -= 1
                    taken = copy.copy(fault)
                    self.faults = [f for f in self.faults if f.count > 0]
                    return taken

        return None

    def remember_cursor(self, locator: str, cursor: dict[str, Any]) -> None:
        with self.lock:
            self.query_cursors[locator] = cursor
            while len(self.query_cursors) > MAX_QUERY_CURSORS:
                self.query_cursors.popitem(last=False)

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of everything, JSON-ready (for the admin API)."""
        with self.lock:
            data = {
                "account_id": self.account_id,
                "api_user_id": self.api_user_id,
                "users": list(self.users.values()),
                "organizations": list(self.organizations.values()),
                "groups": list(self.groups.values()),
                "tickets": list(self.tickets.values()),
                "comments": {str(k): v for k, v in self.comments.items()},
                "satisfaction_ratings": list(self.satisfaction_ratings.values()),
                "salesforce": {
                    "users": list(self.sf_users.values()),
                    "accounts": list(self.accounts.values()),
                    "contacts": list(self.contacts.values()),
                    "api_usage": self.sf_api_usage,
                },
                "calls": dict(self.calls),
                "faults": [vars(f) for f in self.faults],
                "webhook_attempts": self.webhook_attempts,
            }
            return copy.deepcopy(data)


def _user(raw: dict[str, Any]) -> dict[str, Any]:
    user = {
        "id": int(raw["id"]),
        "name": raw.get("name", ""),
        "email": raw.get("email"),
        "role": raw.get("role", "end-user"),
        "organization_id": raw.get("organization_id"),
        "time_zone": raw.get("time_zone", "Asia/Jakarta"),
        "tags": list(raw.get("tags", [])),
        "user_fields": dict(raw.get("user_fields", {})),
        "active": True,
        "verified": True,
        "external_id": raw.get("external_id"),
    }
    return user


def _organization(raw: dict[str, Any]) -> dict[str, Any]:
    organization = {
        "id": int(raw["id"]),
        "name": raw.get("name", ""),
        "external_id": raw.get("external_id"),
        "domain_names": list(raw.get("domain_names", [])),
        "tags": list(raw.get("tags", [])),
        "organization_fields": dict(raw.get("organization_fields", {})),
        "group_id": raw.get("group_id"),
        "shared_tickets": False,
        "notes": "",
        "details": "",
    }
    return organization


def _by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(r["Id"]): dict(r) for r in records}
