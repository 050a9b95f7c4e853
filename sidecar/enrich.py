"""CRM enrichment: the requester's Salesforce account, cached, with fallbacks.

Lookup order: the exact contact e-mail, then (never for a free-mail domain)
the e-mail's domain against the accounts' normalised websites. Several
distinct accounts are reported as ambiguous, never guessed. Every answer,
negative ones included, is cached per e-mail and per domain for a TTL, so
repeated tickets from one requester cost no CRM call. While Salesforce fails
transiently, a stale cached answer serves; without one the result says
``lookup="error"``. A missing CRM field is a configuration error and raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from connector.errors import (
    AuthFailed,
    ConnectorError,
    RateLimited,
    UpstreamUnavailable,
)
from connector.salesforce import normalise_domain
from rules.model import AccountFacts

if TYPE_CHECKING:
    from connector.salesforce import SalesforceConnector

__all__ = [
    "FREE_MAIL_DEFAULT",
    "AccountResolver",
    "CrmCache",
    "email_domain",
    "normalise_domain",
]

logger = logging.getLogger(__name__)

FREE_MAIL_DEFAULT: frozenset[str] = frozenset(
    {
        "aol.com",
        "fastmail.com",
        "gmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hotmail.co.uk",
        "hotmail.com",
        "hotmail.fr",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "rocketmail.com",
        "web.de",
        "yahoo.co.id",
        "yahoo.co.uk",
        "yahoo.com",
        "yandex.com",
        "yandex.ru",
        "ymail.com",
        "zoho.com",
    }
)

# Failures that mean "the CRM cannot answer now", not "the answer is wrong".
TRANSIENT_ERRORS = (UpstreamUnavailable, RateLimited, AuthFailed)


class CrmCache(Protocol):
    """Cached CRM answers: a JSON-able dict and when it was fetched (UTC)."""

    def cache_get(self, key: str) -> tuple[dict, datetime] | None: ...

    def cache_put(self, key: str, value: dict, fetched_at: datetime) -> None: ...


class _Unavailable(Exception):
    """The CRM failed and nothing cached can stand in."""

    def __init__(self, error: ConnectorError) -> None:
        super().__init__(error.code)
        self.error = error


def email_domain(email: str) -> str:
    """The normalised domain of an e-mail address ("" when there is none)."""
    _, at, domain = email.strip().rpartition("@")
    return normalise_domain(domain) if at else ""


class AccountResolver:
    """Finds the requester's account: contact e-mail first, then domain."""

    def __init__(
        self,
        connector: SalesforceConnector,
        cache: CrmCache,
        *,
        ttl_seconds: int = 3600,
        free_mail: frozenset[str] = FREE_MAIL_DEFAULT,
    ) -> None:
        self._connector = connector
        self._cache = cache
        self._ttl = timedelta(seconds=ttl_seconds)
        self._free_mail = frozenset(d.lower() for d in free_mail)

    def resolve(self, email: str, now: datetime) -> AccountFacts:
        """The account for ``email``; never raises for a CRM outage.

        Raises FieldMissing (configuration) and nothing else of the CRM's.
        """
        address = email.strip().lower()
        if "@" not in address:
            return AccountFacts(lookup="none")

        try:
            return self._resolve(address, now)
        except _Unavailable as failure:
            return AccountFacts(lookup="error", error=failure.error.code)

    def _resolve(self, address: str, now: datetime) -> AccountFacts:
        by_email = self._lookup(
            f"email:{address}",
            now,
            lambda: self._connector.find_accounts_by_email(address),
            "email",
        )
        if by_email.lookup != "none":
            return by_email

        domain = email_domain(address)
        if not domain:
            return by_email

        if domain in self._free_mail:
            return AccountFacts(lookup="free_mail", freshness=by_email.freshness)

        return self._lookup(
            f"domain:{domain}",
            now,
            lambda: self._connector.find_accounts_by_domain(domain),
            "domain",
        )

    def _lookup(
        self,
        key: str,
        now: datetime,
        fetch: Callable[[], list[AccountFacts]],
        how: str,
    ) -> AccountFacts:
        """One cached CRM question: fresh cache, else live, else stale cache."""
        cached = self._cache.cache_get(key)
        if cached is not None and now - _aware(cached[1]) < self._ttl:
            return replace(facts_from_dict(cached[0]), freshness="cached")

        try:
            facts = summarise(fetch(), how)
        except TRANSIENT_ERRORS as exc:
            return self._fallback(key, cached, exc)

        self._cache.cache_put(key, facts_to_dict(facts), now)
        return facts

    def _fallback(
        self,
        key: str,
        cached: tuple[dict, datetime] | None,
        error: ConnectorError,
    ) -> AccountFacts:
        kind = key.split(":", 1)[0]
        if cached is None:
            logger.warning(
                "crm %s lookup failed (%s); nothing cached", kind, error.code
            )
            raise _Unavailable(error)

        logger.warning(
            "crm %s lookup failed (%s); serving stale cache", kind, error.code
        )
        return replace(facts_from_dict(cached[0]), freshness="stale")


def summarise(accounts: list[AccountFacts], how: str) -> AccountFacts:
    """One answer from a lookup's matches: the account, none, or ambiguous."""
    ids = tuple(dict.fromkeys(a.account_id for a in accounts if a.account_id))
    if not ids:
        return AccountFacts(lookup="none")

    if len(ids) > 1:
        return AccountFacts(lookup="ambiguous", candidates=tuple(sorted(ids)))

    return replace(accounts[0], lookup=how, freshness="live")


def facts_to_dict(facts: AccountFacts) -> dict[str, Any]:
    """A JSON-able dict of the facts (freshness is not stored)."""
    value = asdict(facts)
    value.pop("freshness")
    value["candidates"] = list(facts.candidates)
    return value


def facts_from_dict(value: dict[str, Any]) -> AccountFacts:
    """AccountFacts from a cached dict; unknown keys are ignored."""
    known = {k: v for k, v in value.items() if k in _FIELDS and k != "freshness"}
    known["candidates"] = tuple(known.get("candidates") or ())
    return AccountFacts(**known)


def _aware(value: datetime) -> datetime:
    # The store keeps UTC; a back end that drops the zone still means UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


_FIELDS = frozenset(AccountFacts.__dataclass_fields__)
