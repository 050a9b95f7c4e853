"""The policy model: what config.yaml says, validated into frozen dataclasses.

Policy lives in YAML; secrets never do (they come from the environment, see
``sidecar.settings``). :func:`parse_policy` collects every problem it finds,
each with its key path and, where YAML gives one, its line, so that
``vip-sidecar check-config`` can print them all at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from rules.model import PRIORITIES, SEVERITIES

DEFAULT_STORE_URL = "sqlite:///var/vip-sidecar.db"
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the configuration."""

    key: str
    message: str
    line: int | None = None

    def render(self, path: str) -> str:
        if self.key.startswith("$"):
            return f"environment: {self.key}: {self.message}"
        where = f"{path}:{self.line}" if self.line else path
        return f"{where}: {self.key}: {self.message}"


class PolicyError(ValueError):
    """The configuration has problems; ``problems`` lists every one.

    ``raw`` and ``lines`` are the parsed file and its key-to-line index when
    the YAML itself was readable, so callers can check more of it.
    """

    def __init__(
        self,
        path: str,
        problems: list[Problem],
        raw: Mapping[str, Any] | None = None,
        lines: Mapping[str, int] | None = None,
    ) -> None:
        self.path = path
        self.problems = problems
        self.raw = raw
        self.lines = lines or {}
        super().__init__("\n".join(p.render(path) for p in problems))


@dataclass(frozen=True)
class TierPolicy:
    name: str
    rank: int
    group_id: int | None
    page_management: bool = False


@dataclass(frozen=True)
class SeverityPolicy:
    level: str
    priority: str


@dataclass(frozen=True)
class VipRules:
    email_domains: Mapping[str, str] = field(default_factory=dict)
    organization_tags: Mapping[str, str] = field(default_factory=dict)
    crm_tiers: Mapping[str, str] = field(default_factory=dict)
    contract_value: tuple[tuple[float, str], ...] = ()


@dataclass(frozen=True)
class FieldIds:
    """Zendesk custom field ids the sidecar fills (None: not written)."""

    tier: int | None = None
    severity: int | None = None
    contract_value: int | None = None
    frustration: int | None = None
    account_owner: int | None = None


@dataclass(frozen=True)
class ZendeskPolicy:
    subdomain: str
    base_url: str | None = None
    timeout_seconds: float = 10.0
    ratelimit_budget_seconds: float = 60.0
    api_user_id: int | None = None


@dataclass(frozen=True)
class SalesforcePolicy:
    enabled: bool = True
    domain: str = ""
    auth: str = "client_credentials"
    username: str = ""
    api_version: str = "59.0"
    timeout_seconds: float = 10.0
    token_url: str | None = None
    fields: Mapping[str, str | None] = field(default_factory=dict)
    cache_ttl_seconds: int = 3600
    free_mail_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    """The whole validated configuration (the parts other modules parse are
    kept as their raw mappings in ``raw`` and parsed by their owners)."""

    zendesk: ZendeskPolicy
    salesforce: SalesforcePolicy
    vip: VipRules
    tiers: Mapping[str, TierPolicy]
    severities: Mapping[str, SeverityPolicy]
    fields: FieldIds
    store_url: str
    bind: str = "127.0.0.1:8080"
    server_workers: int = 2
    server_threads: int = 8
    max_body_bytes: int = 1_048_576
    signature_tolerance_seconds: int = 300
    sweep_interval_seconds: float = 30.0
    worker_poll_seconds: float = 0.5
    enriched_tag: str = "vip_enriched"
    raw: Mapping[str, Any] = field(default_factory=dict)
    lines: Mapping[str, int] = field(default_factory=dict)

    def tier(self, name: str | None) -> TierPolicy | None:
        return self.tiers.get(name) if name else None


DEFAULT_SEVERITY_PRIORITY = {"P1": "urgent", "P2": "high", "P3": "normal"}


def load_policy(path: str) -> Policy:
    """Read and validate ``path``; raise :class:`PolicyError` listing problems."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise PolicyError(path, [Problem("(file)", f"cannot read: {exc}")]) from exc

    return parse_policy_text(text, path)


def parse_policy_text(text: str, path: str = "config.yaml") -> Policy:
    try:
        node = yaml.compose(text)
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = Problem("(yaml)", f"not valid YAML: {exc}", line)
        raise PolicyError(path, [problem]) from exc

    duplicates: list[Problem] = []
    lines = _line_index(node, duplicates=duplicates)
    if not isinstance(raw, dict):
        raise PolicyError(path, [Problem("(top)", "must be a mapping of sections")])

    reader = _Reader(raw, lines)
    reader.problems.extend(duplicates)
    policy = _build(reader)
    if reader.problems:
        raise PolicyError(path, reader.problems, raw, lines)

    return policy


def _line_index(
    node: yaml.Node | None, prefix: str = "", duplicates: list[Problem] | None = None
) -> dict[str, int]:
    """Map dotted key paths to 1-based line numbers in the YAML source; a key
    that appears twice in one mapping is added to ``duplicates``."""
    duplicates = [] if duplicates is None else duplicates
    index: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            if key in index:
                duplicates.append(
                    Problem(
                        key,
                        "appears twice; the later one wins",
                        key_node.start_mark.line + 1,
                    )
                )
            index[key] = key_node.start_mark.line + 1
            index.update(_line_index(value_node, key, duplicates))
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            key = f"{prefix}[{position}]"
            index[key] = item.start_mark.line + 1
            index.update(_line_index(item, key, duplicates))

    return index


class _Reader:
    """Typed access to the raw mapping that records problems instead of raising."""

    def __init__(self, raw: Mapping[str, Any], lines: Mapping[str, int]) -> None:
        self.raw = raw
        self.lines = lines
        self.problems: list[Problem] = []

    def problem(self, key: str, message: str) -> None:
        line = self.lines.get(key) or self.lines.get(key.rsplit(".", 1)[0])
        self.problems.append(Problem(key, message, line))

    def get(self, key: str, default: Any = None) -> Any:
        value: Any = self.raw
        for part in key.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return default
            value = value[part]

        return default if value is None else value

    def section(self, key: str) -> Mapping[str, Any]:
        value = self.get(key, {})
        if not isinstance(value, Mapping):
            self.problem(key, "must be a mapping")
            return {}

        return value

    def typed(self, key: str, kind: Callable[[Any], Any], default: Any) -> Any:
        value = self.get(key, default)
        if value is None:
            return None
        if kind is bool and not isinstance(value, bool):
            self.problem(key, f"must be true or false, not {value!r}")
            return default
        try:
            return kind(value)
        except (TypeError, ValueError):
            noun = {float: "a number", int: "a whole number"}.get(kind, kind.__name__)
            self.problem(key, f"must be {noun}, not {value!r}")
            return default

    def positive(self, key: str, default: float) -> float:
        value = self.typed(key, float, default)
        if value is not None and value <= 0:
            self.problem(key, f"must be greater than 0, not {self.get(key)!r}")
            return default

        return value

    def optional_id(self, key: str) -> int | None:
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.problem(key, f"must be a numeric Zendesk id, not {value!r}")
            return None
        if not str(value).isdigit():
            self.problem(key, f"must be a numeric Zendesk id, not {value!r}")
            return None

        return int(value)


# Every key the policy file may hold, section by section (None: any key;
# the sections that other modules parse check their own keys).
_KNOWN_KEYS: dict[str, frozenset[str] | None] = {
    "zendesk": frozenset(
        {"subdomain", "base_url", "timeout_seconds", "ratelimit_budget_seconds",
         "api_user_id", "enriched_tag"}
    ),
    "salesforce": frozenset(
        {"enabled", "domain", "auth", "username", "api_version", "timeout_seconds",
         "token_url", "fields", "cache_ttl_seconds", "free_mail_domains"}
    ),
    "tiers": None,
    "vip": frozenset(
        {"email_domains", "organization_tags", "crm_tiers", "contract_value"}
    ),
    "severity": None,
    "fields": None,
    "sla": None,
    "calendars": None,
    "triage": None,
    "store": frozenset({"url"}),
    "server": frozenset(
        {"bind", "workers", "threads", "max_body_bytes", "signature_tolerance_seconds"}
    ),
    "worker": frozenset({"poll_interval_seconds"}),
    "scheduler": frozenset({"sweep_interval_seconds"}),
}  # fmt: skip
_TIER_KEYS = frozenset({"rank", "group_id", "page_management"})
_MINUTES = frozenset(
    {"first_response_minutes", "next_update_minutes", "periodic_update_minutes",
     "resolution_minutes"}
)  # fmt: skip
# Nested mappings whose keys are fixed (the modules that parse them read only
# these; a misspelled key would silently switch a feature off).
_NESTED_KEYS: dict[str, frozenset[str]] = {
    "sla": frozenset(
        {"calendar", "calendars", "business_time", "thresholds", "pause_statuses",
         "renotify_minutes", "renotify_max", "acknowledge", "escalation", "tiers"}
    ),
    "sla.acknowledge": frozenset({"tag", "command"}),
    "sla.escalation": frozenset(
        {"team_lead_group_id", "management_group_id", "chat_url_env"}
    ),
    "severity.P1": _MINUTES | {"priority"},
    "severity.P2": _MINUTES | {"priority"},
    "severity.P3": _MINUTES | {"priority"},
}  # fmt: skip
_STORE_SCHEMES = ("sqlite", "postgresql")
_BIND = re.compile(r"^[A-Za-z0-9.\-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$")


def _unknown_keys(reader: _Reader) -> None:
    for section, value in reader.raw.items():
        if section not in _KNOWN_KEYS:
            known = ", ".join(_KNOWN_KEYS)
            reader.problem(str(section), f"unknown section; known: {known}")
            continue
        keys = _KNOWN_KEYS[section]
        if keys is not None:
            _check_keys(reader, str(section), value, keys)
    for path, keys in _NESTED_KEYS.items():
        _check_keys(reader, path, reader.get(path), keys)


def _check_keys(reader: _Reader, path: str, value: Any, keys: frozenset[str]) -> None:
    if not isinstance(value, Mapping):
        return
    for key in value:
        if key not in keys:
            hint = ", ".join(sorted(keys))
            reader.problem(f"{path}.{key}", f"unknown key; known: {hint}")


def _build(reader: _Reader) -> Policy:
    _unknown_keys(reader)
    tiers = _tiers(reader)
    return Policy(
        zendesk=_zendesk(reader),
        salesforce=_salesforce(reader),
        vip=_vip(reader, tiers),
        tiers=tiers,
        severities=_severities(reader),
        fields=_fields(reader),
        store_url=_store_url(reader),
        bind=_bind(reader),
        server_workers=int(reader.positive("server.workers", 2)),
        server_threads=int(reader.positive("server.threads", 8)),
        max_body_bytes=int(reader.positive("server.max_body_bytes", 1_048_576)),
        signature_tolerance_seconds=int(
            reader.positive("server.signature_tolerance_seconds", 300)
        ),
        sweep_interval_seconds=reader.positive("scheduler.sweep_interval_seconds", 30),
        worker_poll_seconds=reader.positive("worker.poll_interval_seconds", 0.5),
        enriched_tag=str(reader.get("zendesk.enriched_tag", "vip_enriched")),
        raw=reader.raw,
        lines=reader.lines,
    )


def _store_url(reader: _Reader) -> str:
    url = str(reader.get("store.url", DEFAULT_STORE_URL))
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme not in _STORE_SCHEMES:
        reader.problem(
            "store.url",
            f"unsupported database {scheme!r}; use sqlite:///FILE or "
            "postgresql+psycopg://USER@HOST/DB",
        )

    return url


def _bind(reader: _Reader) -> str:
    bind = str(reader.get("server.bind", "127.0.0.1:8080"))
    port = bind.rsplit(":", 1)[-1]
    if not _BIND.match(bind) or not 0 < int(port) < 65536:
        reader.problem("server.bind", f"must be HOST:PORT (port 1-65535), not {bind!r}")

    return bind


def _zendesk(reader: _Reader) -> ZendeskPolicy:
    subdomain = reader.get("zendesk.subdomain")
    if not subdomain or not isinstance(subdomain, str):
        reader.problem(
            "zendesk.subdomain", "is required (the NAME in NAME.zendesk.com)"
        )
        subdomain = ""
    base_url = reader.get("zendesk.base_url")
    if base_url is not None and not str(base_url).startswith("https://"):
        reader.problem("zendesk.base_url", "must start with https://")

    return ZendeskPolicy(
        subdomain=subdomain,
        base_url=base_url,
        timeout_seconds=reader.positive("zendesk.timeout_seconds", 10),
        ratelimit_budget_seconds=reader.positive(
            "zendesk.ratelimit_budget_seconds", 60
        ),
        api_user_id=reader.optional_id("zendesk.api_user_id"),
    )


_SF_FIELD_DEFAULTS = {
    "tier": "Tier__c",
    "contract_value": "Contract_Value__c",
    "owner_name": "Owner.Name",
    "owner_email": "Owner.Email",
    "website": "Website",
    "calendar": None,
}


def _salesforce(reader: _Reader) -> SalesforcePolicy:
    enabled = reader.typed("salesforce.enabled", bool, True)
    domain = str(reader.get("salesforce.domain", ""))
    auth = str(reader.get("salesforce.auth", "client_credentials"))
    if auth not in ("client_credentials", "jwt", "password"):
        reader.problem("salesforce.auth", "must be client_credentials, jwt or password")
    if enabled and not domain:
        reader.problem("salesforce.domain", "is required (the My Domain, e.g. acme.my)")
    if (
        enabled
        and auth in ("jwt", "password")
        and not reader.get("salesforce.username")
    ):
        reader.problem("salesforce.username", f"is required for auth {auth}")

    fields = dict(_SF_FIELD_DEFAULTS)
    for name, value in reader.section("salesforce.fields").items():
        if name not in _SF_FIELD_DEFAULTS:
            reader.problem(f"salesforce.fields.{name}", "unknown field role")
        elif value is not None and not _FIELD_NAME.match(str(value)):
            reader.problem(f"salesforce.fields.{name}", f"not a field name: {value!r}")
        else:
            fields[name] = value

    free_mail = reader.get("salesforce.free_mail_domains", [])
    if not isinstance(free_mail, list):
        reader.problem("salesforce.free_mail_domains", "must be a list of domains")
        free_mail = []

    return SalesforcePolicy(
        enabled=enabled,
        domain=domain,
        auth=auth,
        username=str(reader.get("salesforce.username", "")),
        api_version=str(reader.get("salesforce.api_version", "59.0")),
        timeout_seconds=reader.positive("salesforce.timeout_seconds", 10),
        token_url=reader.get("salesforce.token_url"),
        fields=fields,
        cache_ttl_seconds=int(reader.positive("salesforce.cache_ttl_seconds", 3600)),
        free_mail_domains=tuple(str(d).lower() for d in free_mail),
    )


def _tiers(reader: _Reader) -> dict[str, TierPolicy]:
    section = reader.section("tiers")
    if not section:
        reader.problem("tiers", "define at least one tier (e.g. platinum, gold)")
    tiers: dict[str, TierPolicy] = {}
    for position, (name, spec) in enumerate(section.items(), start=1):
        key = f"tiers.{name}"
        if not isinstance(spec, Mapping):
            reader.problem(key, "must be a mapping with group_id, rank, ...")
            continue
        for unknown in set(spec) - _TIER_KEYS:
            reader.problem(
                f"{key}.{unknown}",
                "unknown key; known: group_id, page_management, rank",
            )
        tiers[str(name)] = TierPolicy(
            name=str(name),
            rank=int(reader.typed(f"{key}.rank", int, position)),
            group_id=reader.optional_id(f"{key}.group_id"),
            page_management=bool(reader.typed(f"{key}.page_management", bool, False)),
        )

    ranks = [tier.rank for tier in tiers.values()]
    for name, tier in tiers.items():
        if ranks.count(tier.rank) > 1:
            reader.problem(
                f"tiers.{name}.rank", f"rank {tier.rank} is used by more than one tier"
            )

    return tiers


def _tier_map(reader: _Reader, key: str, tiers: Mapping[str, TierPolicy]) -> dict:
    mapping: dict[str, str] = {}
    for name, tier in reader.section(key).items():
        if tier not in tiers:
            reader.problem(f"{key}.{name}", f"names unknown tier {tier!r}")
            continue
        mapping[str(name)] = str(tier)

    return mapping


def _vip(reader: _Reader, tiers: Mapping[str, TierPolicy]) -> VipRules:
    domains = _tier_map(reader, "vip.email_domains", tiers)
    thresholds: list[tuple[float, str]] = []
    rows = reader.get("vip.contract_value", [])
    if not isinstance(rows, list):
        reader.problem("vip.contract_value", "must be a list of {min, tier}")
        rows = []
    for position, row in enumerate(rows):
        key = f"vip.contract_value[{position}]"
        if not isinstance(row, Mapping) or row.get("tier") not in tiers:
            reader.problem(key, "needs min (a number) and tier (a defined tier)")
            continue
        try:
            thresholds.append((float(row.get("min")), str(row["tier"])))
        except (TypeError, ValueError):
            reader.problem(f"{key}.min", f"must be a number, not {row.get('min')!r}")

    return VipRules(
        email_domains={d.lower(): t for d, t in domains.items()},
        organization_tags=_tier_map(reader, "vip.organization_tags", tiers),
        crm_tiers={
            k.lower(): v for k, v in _tier_map(reader, "vip.crm_tiers", tiers).items()
        },
        contract_value=tuple(sorted(thresholds, reverse=True)),
    )


def _severities(reader: _Reader) -> dict[str, SeverityPolicy]:
    result: dict[str, SeverityPolicy] = {}
    section = reader.section("severity")
    for name in section:
        if name not in SEVERITIES:
            reader.problem(f"severity.{name}", "unknown severity; use P1, P2 or P3")
    for level in SEVERITIES:
        priority = str(
            reader.get(f"severity.{level}.priority", DEFAULT_SEVERITY_PRIORITY[level])
        )
        if priority not in PRIORITIES:
            reader.problem(
                f"severity.{level}.priority", f"must be one of {', '.join(PRIORITIES)}"
            )
            priority = DEFAULT_SEVERITY_PRIORITY[level]
        result[level] = SeverityPolicy(level=level, priority=priority)

    return result


def _fields(reader: _Reader) -> FieldIds:
    known = set(FieldIds.__dataclass_fields__)
    for name in reader.section("fields"):
        if name not in known:
            reader.problem(
                f"fields.{name}", f"unknown field; known: {', '.join(sorted(known))}"
            )

    return FieldIds(**{name: reader.optional_id(f"fields.{name}") for name in known})
