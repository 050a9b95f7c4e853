"""Salesforce accounts, through simple-salesforce, in the project's vocabulary.

Finds the CRM account of a ticket's requester: by exact contact e-mail, or by
the normalised website domain. The OAuth token is minted here, not by
simple-salesforce, because its login

- builds the token address from ``domain`` + ".salesforce.com", which cannot
  reach a local sandbox on 127.0.0.1;
- sends the login request without a timeout, so a silent server hangs it;
- renews an expired session by itself, without a lock (every thread logs in
  again) and, on some paths, without a bound.

So the client is built in direct mode (``instance_url`` + ``session_id``): it
never logs in. An expired session is renewed here, under a lock, at most
``max_relogins`` times per call. Every SOQL value goes through ``format_soql``;
field names come from :class:`SalesforceFields` and are checked at start-up.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import jwt
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession
from simple_salesforce.format import format_soql

from connector.errors import (
    AuthFailed,
    ConnectorError,
    FieldMissing,
    NotFound,
    RateLimited,
    Rejected,
    UpstreamUnavailable,
)
from connector.http import connector_session
from rules.model import AccountFacts
from sidecar.errors import ConfigError

logger = logging.getLogger(__name__)

SYSTEM = "salesforce"
AUTH_FLOWS = ("client_credentials", "jwt", "password")
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180
# Salesforce sends no Retry-After with REQUEST_LIMIT_EXCEEDED.
LIMIT_RETRY_AFTER = 60.0

_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_NO_SUCH_COLUMN = re.compile(r"No such column '([^']+)' on entity '([^']+)'")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")

T = TypeVar("T")


@dataclass(frozen=True)
class SalesforceFields:
    """API names of the Account fields the sidecar reads."""

    tier: str = "Tier__c"
    contract_value: str = "Contract_Value__c"
    owner_name: str = "Owner.Name"
    owner_email: str = "Owner.Email"
    website: str = "Website"
    calendar: str | None = None

    def account_fields(self) -> list[str]:
        """The fields read from an account, besides Id and Name."""
        names = [self.tier, self.contract_value, self.owner_name, self.owner_email]
        return names + ([self.calendar] if self.calendar else [])


@dataclass(frozen=True)
class SalesforceSettings:
    """Where and how to reach Salesforce.

    ``domain`` is the My Domain (``acme.my``); ``token_url`` overrides
    ``https://{domain}.salesforce.com/services/oauth2/token`` (the sandbox).
    ``auth`` is ``client_credentials``, ``jwt`` or the legacy ``password``.
    """

    domain: str
    auth: str = "client_credentials"
    consumer_key: str = ""
    consumer_secret: str = ""
    username: str = ""
    private_key_file: str | None = None
    password: str = ""
    token_url: str | None = None
    api_version: str = "59.0"
    ca_bundle: str | None = None
    timeout: float = 10.0
    max_relogins: int = 1
    fields: SalesforceFields = field(default_factory=SalesforceFields)


class SalesforceConnector:
    """Looks up CRM accounts by contact e-mail or by website domain."""

    def __init__(
        self, settings: SalesforceSettings, session: requests.Session | None = None
    ) -> None:
        check_settings(settings)
        self._settings = settings
        self._private_key = _read_private_key(settings)
        self._session, self._recorder = connector_session(
            session, settings.ca_bundle, classify_call
        )
        self.calls = self._recorder.calls
        self._lock = threading.Lock()
        self._client: Salesforce | None = None
        if settings.auth == "password":
            logger.warning(
                "salesforce: the OAuth username-password flow is being retired; "
                "use client_credentials or jwt"
            )

    def find_accounts_by_email(self, email: str) -> list[AccountFacts]:
        """Distinct accounts of the contacts whose e-mail is exactly ``email``."""
        email = email.strip()
        if not email:
            return []

        soql = format_soql(contact_soql(self._settings.fields), email)
        records = self._query("contact", soql)
        accounts = (
            account_from_contact(r, self._settings.fields)
            for r in records
            if r.get("AccountId")
        )
        return distinct(accounts)

    def find_accounts_by_domain(self, domain: str) -> list[AccountFacts]:
        """Distinct accounts whose normalised website is exactly ``domain``."""
        domain = normalise_domain(domain)
        if not domain:
            return []

        fields = self._settings.fields
        records = self._query("account", format_soql(account_soql(fields), domain))
        matches = (
            account_from_record(r, fields)
            for r in records
            if normalise_domain(str(walk(r, fields.website) or "")) == domain
        )
        return distinct(matches)

    def _query(self, what: str, soql: str) -> list[dict[str, Any]]:
        timeout = self._settings.timeout

        def run(client: Salesforce) -> list[dict[str, Any]]:
            return list(client.query_all_iter(soql, timeout=timeout))

        return self._call(what, run)

    def _call(self, what: str, fn: Callable[[Salesforce], T]) -> T:
        """Run ``fn``; renew an expired session a bounded number of times."""
        client = self._current_client()

        for attempt in range(self._settings.max_relogins + 1):
            try:
                return fn(client)
            except SalesforceExpiredSession as exc:
                if attempt == self._settings.max_relogins:
                    raise AuthFailed(
                        f"salesforce {what}: session still refused after "
                        f"{attempt} renewal(s)",
                        system=SYSTEM,
                    ) from exc

                logger.warning("salesforce session expired; renewing (%d)", attempt + 1)
                client = self._renew_client(client)
            except (SalesforceError, requests.RequestException) as exc:
                error = translate_error(exc, what)
                if error.transient:
                    logger.warning("salesforce %s failed: %s", what, error.code)
                raise error from exc

        raise AssertionError("unreachable")  # pragma: no cover

    def _current_client(self) -> Salesforce:
        with self._lock:
            if self._client is None:
                self._client = self._login()

            return self._client

    def _renew_client(self, stale: Salesforce) -> Salesforce:
        with self._lock:
            # Another thread may have renewed it while this one waited.
            if self._client is stale:
                self._client = self._login()

            return self._client

    def _login(self) -> Salesforce:
        token = self._mint_token()
        return Salesforce(
            instance_url=token["instance_url"],
            session_id=token["access_token"],
            session=self._session,
            version=self._settings.api_version,
        )

    def _mint_token(self) -> dict[str, Any]:
        settings = self._settings
        data, auth = token_request(settings, self._private_key)

        try:
            response = self._session.post(
                token_url(settings), data=data, auth=auth, timeout=settings.timeout
            )
        except requests.RequestException as exc:
            name = type(exc).__name__
            raise UpstreamUnavailable(
                f"salesforce token: {name}", system=SYSTEM
            ) from exc

        return parse_token_response(response)


def token_request(
    settings: SalesforceSettings, private_key: str | None
) -> tuple[dict[str, str], tuple[str, str] | None]:
    """The form fields and HTTP Basic credentials of the configured token flow."""
    if settings.auth == "client_credentials":
        auth = (settings.consumer_key, settings.consumer_secret)
        return {"grant_type": "client_credentials"}, auth

    if settings.auth == "jwt":
        assertion = jwt_assertion(settings, private_key or "", time.time())
        return {"grant_type": JWT_GRANT, "assertion": assertion}, None

    return {
        "grant_type": "password",
        "client_id": settings.consumer_key,
        "client_secret": settings.consumer_secret,
        "username": settings.username,
        "password": settings.password,
    }, None


def jwt_assertion(settings: SalesforceSettings, private_key: str, now: float) -> str:
    """The RS256 JWT bearer assertion, valid for three minutes."""
    claims = {
        "iss": settings.consumer_key,
        "sub": settings.username,
        "aud": jwt_audience(settings.domain),
        "exp": int(now) + JWT_LIFETIME_SECONDS,
    }
    return jwt.encode(claims, private_key, algorithm="RS256")


def jwt_audience(domain: str) -> str:
    """Salesforce accepts login (or test, for sandboxes) as the JWT audience."""
    if domain == "test" or domain.endswith(".sandbox.my"):
        return "https://test.salesforce.com"

    return "https://login.salesforce.com"


def parse_token_response(response: requests.Response) -> dict[str, Any]:
    """The token answer, or AuthFailed / UpstreamUnavailable."""
    status = response.status_code
    if status >= 500 or status == 429:
        raise UpstreamUnavailable(f"salesforce token: HTTP {status}", system=SYSTEM)

    try:
        body = response.json()
    except ValueError as exc:
        raise UpstreamUnavailable(
            f"salesforce token: HTTP {status}, not JSON", system=SYSTEM
        ) from exc

    if status >= 300 or not isinstance(body, dict):
        error = body.get("error", "") if isinstance(body, dict) else ""
        raise AuthFailed(f"salesforce token refused: {error or status}", system=SYSTEM)

    if not body.get("access_token") or not body.get("instance_url"):
        raise AuthFailed("salesforce token answer lacks a token", system=SYSTEM)

    return body


def translate_error(exc: Exception, what: str) -> ConnectorError:
    """The connector error for a failed query; never quotes the vendor's text."""
    if not isinstance(exc, SalesforceError):
        name = type(exc).__name__
        return UpstreamUnavailable(f"salesforce {what}: {name}", system=SYSTEM)

    status = exc.status
    code, message = _first_error(exc.content)
    context = f"salesforce {what}: HTTP {status} {code}".rstrip()

    if code == "INVALID_FIELD":
        return field_missing(message, what)

    if code == "REQUEST_LIMIT_EXCEEDED" or status == 429:
        return RateLimited(context, system=SYSTEM, retry_after=LIMIT_RETRY_AFTER)

    if status >= 500:
        return UpstreamUnavailable(context, system=SYSTEM)

    by_status: dict[int, type[ConnectorError]] = {
        401: AuthFailed,
        403: AuthFailed,
        404: NotFound,
    }
    return by_status.get(status, Rejected)(context, system=SYSTEM)


def field_missing(message: str, what: str) -> FieldMissing:
    """FieldMissing naming what "No such column 'X' on entity 'Y'" names."""
    match = _NO_SUCH_COLUMN.search(message)
    column, entity = match.groups() if match else ("?", "?")
    return FieldMissing(
        f"salesforce {what}: field {column!r} is missing on {entity!r} or hidden "
        "from the integration user; check the configured field names",
        system=SYSTEM,
        field=column,
        entity=entity,
    )


def _first_error(content: object) -> tuple[str, str]:
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return str(first.get("errorCode", "")), str(first.get("message", ""))

    return "", ""


def contact_soql(fields: SalesforceFields) -> str:
    """Template (one ``{}``): contacts by exact e-mail, with their account."""
    columns = ["Id", "Email", "AccountId", "Account.Name"]
    columns += [f"Account.{name}" for name in fields.account_fields()]
    return f"SELECT {', '.join(columns)} FROM Contact WHERE Email = {{}} LIMIT 10"


def account_soql(fields: SalesforceFields) -> str:
    """Template (one ``{:like}``): accounts whose website contains a domain."""
    columns = ["Id", "Name", fields.website, *fields.account_fields()]
    return (
        f"SELECT {', '.join(columns)} FROM Account "
        f"WHERE {fields.website} LIKE '%{{:like}}%' LIMIT 50"
    )


def account_from_contact(
    record: dict[str, Any], fields: SalesforceFields
) -> AccountFacts:
    """AccountFacts from a Contact row with nested Account columns."""
    account = record.get("Account") or {}
    return _account(str(record["AccountId"]), account, fields, lookup="email")


def account_from_record(
    record: dict[str, Any], fields: SalesforceFields
) -> AccountFacts:
    """AccountFacts from an Account row."""
    return _account(str(record["Id"]), record, fields, lookup="domain")


def _account(
    account_id: str, row: dict[str, Any], fields: SalesforceFields, *, lookup: str
) -> AccountFacts:
    tier = walk(row, fields.tier)
    calendar = walk(row, fields.calendar) if fields.calendar else None
    return AccountFacts(
        account_id=account_id,
        name=str(row.get("Name") or ""),
        tier=str(tier) if tier not in (None, "") else None,
        contract_value=_to_float(walk(row, fields.contract_value)),
        owner_name=str(walk(row, fields.owner_name) or ""),
        owner_email=str(walk(row, fields.owner_email) or ""),
        calendar=str(calendar) if calendar else None,
        lookup=lookup,
    )


def walk(row: dict[str, Any], path: str) -> Any:
    """The value of a dotted field (``Owner.Name``) in a nested record."""
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict):
            return None

        value = value.get(part)

    return value


def distinct(accounts: Iterable[AccountFacts]) -> list[AccountFacts]:
    """Accounts in first-seen order, one per account id."""
    seen: dict[str | None, AccountFacts] = {}
    for account in accounts:
        seen.setdefault(account.account_id, account)

    return list(seen.values())


def normalise_domain(value: str) -> str:
    """A host name from a free-text website or domain: lowercase, no scheme,
    credentials, ``www.``, port, path or trailing dot ("" when nothing is left).
    """
    host = _SCHEME.sub("", value.strip().lower())
    host = re.split(r"[/?#]", host, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].strip().rstrip(".")
    return host.removeprefix("www.")


def classify_call(method: str, path_url: str) -> str | None:
    """The statistics key of one request, e.g. ``"GET query"``."""
    path = path_url.split("?", 1)[0].rstrip("/")
    if path.endswith("/oauth2/token"):
        return f"{method} token"

    if re.search(r"/services/data/v[\d.]+/query(All)?(/|$)", path + "/"):
        return f"{method} query"

    return f"{method} {path.rsplit('/', 1)[-1]}"


def token_url(settings: SalesforceSettings) -> str:
    if settings.token_url:
        return settings.token_url

    return f"https://{settings.domain}.salesforce.com/services/oauth2/token"


def check_settings(settings: SalesforceSettings) -> None:
    """Fail at start-up, naming the setting that is wrong."""
    if settings.auth not in AUTH_FLOWS:
        raise ConfigError(f"salesforce auth: {settings.auth!r} not in {AUTH_FLOWS}")

    required = {
        "client_credentials": ("domain", "consumer_key", "consumer_secret"),
        "jwt": ("domain", "consumer_key", "username", "private_key_file"),
        "password": (
            "domain",
            "consumer_key",
            "consumer_secret",
            "username",
            "password",
        ),
    }[settings.auth]
    missing = [name for name in required if not getattr(settings, name)]
    if missing:
        raise ConfigError(f"salesforce settings ({settings.auth}): missing {missing}")

    names = [settings.fields.website, *settings.fields.account_fields()]
    bad = [name for name in names if not _FIELD_NAME.match(name)]
    if bad:
        raise ConfigError(f"salesforce fields: not field API names: {bad}")

    if settings.timeout <= 0 or settings.max_relogins < 0:
        raise ConfigError("salesforce settings: timeout must be > 0, max_relogins >= 0")


def _read_private_key(settings: SalesforceSettings) -> str | None:
    if settings.auth != "jwt" or not settings.private_key_file:
        return None

    try:
        with open(settings.private_key_file, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigError(
            f"salesforce private_key_file: cannot read ({exc.strerror})"
        ) from exc


def _to_float(value: object) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None

    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
