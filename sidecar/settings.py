"""Settings: the policy file plus the secrets, which come only from the environment.

A ``.env`` file in the working directory is read first, without overriding
variables that are already set in the real environment.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dotenv import load_dotenv

from rules.config import Policy, PolicyError, Problem, load_policy

log = logging.getLogger(__name__)

ENV_CONFIG = "VIP_SIDECAR_CONFIG"
DEFAULT_CONFIG = "config.yaml"

# Variable name -> what it is; every secret the sidecar reads.
SECRETS = {
    "ZENDESK_EMAIL": "the Zendesk API user's email",
    "ZENDESK_API_TOKEN": "the Zendesk API token",
    "ZENDESK_WEBHOOK_SECRET": "the webhook's signing secret",
    "SALESFORCE_CONSUMER_KEY": "the connected app's consumer key",
    "SALESFORCE_CONSUMER_SECRET": "the consumer secret (client credentials)",
    "SALESFORCE_PRIVATE_KEY_FILE": "the JWT signing key file (JWT bearer)",
    "SALESFORCE_PASSWORD": "the integration user's password (legacy flow)",
}


@dataclass(frozen=True)
class Secrets:
    zendesk_email: str = ""
    zendesk_token: str = ""
    webhook_secret: str = ""
    sf_consumer_key: str = ""
    sf_consumer_secret: str = ""
    sf_private_key_file: str = ""
    sf_password: str = ""
    ca_bundle: str = ""

    def __repr__(self) -> str:
        # Never print secret values, not even in a traceback.
        return "Secrets(<redacted>)"


@dataclass(frozen=True)
class Settings:
    config_path: str
    policy: Policy
    secrets: Secrets
    allow_unsigned: bool = False


def read_secrets(env: Mapping[str, str] | None = None) -> Secrets:
    env = os.environ if env is None else env
    return Secrets(
        zendesk_email=env.get("ZENDESK_EMAIL", ""),
        zendesk_token=env.get("ZENDESK_API_TOKEN", ""),
        webhook_secret=env.get("ZENDESK_WEBHOOK_SECRET", ""),
        sf_consumer_key=env.get("SALESFORCE_CONSUMER_KEY", ""),
        sf_consumer_secret=env.get("SALESFORCE_CONSUMER_SECRET", ""),
        sf_private_key_file=env.get("SALESFORCE_PRIVATE_KEY_FILE", ""),
        sf_password=env.get("SALESFORCE_PASSWORD", ""),
        ca_bundle=env.get("VIP_SIDECAR_CA_BUNDLE", ""),
    )


def secret_problems(
    raw: Mapping[str, Any], secrets: Secrets, *, allow_unsigned: bool = False
) -> list[Problem]:
    """What is missing from the environment for this (raw) policy."""
    problems: list[Problem] = []

    def need(name: str, value: str, why: str) -> None:
        if not value:
            problems.append(Problem(f"${name}", f"is not set: {why}"))

    need("ZENDESK_EMAIL", secrets.zendesk_email, SECRETS["ZENDESK_EMAIL"])
    need("ZENDESK_API_TOKEN", secrets.zendesk_token, SECRETS["ZENDESK_API_TOKEN"])
    if not allow_unsigned:
        need(
            "ZENDESK_WEBHOOK_SECRET",
            secrets.webhook_secret,
            "webhooks cannot be verified; set it, or start with "
            "--insecure-allow-unsigned (never in production)",
        )

    salesforce = raw.get("salesforce") or {}
    salesforce = salesforce if isinstance(salesforce, Mapping) else {}
    if salesforce.get("enabled", True) is not False:
        auth = salesforce.get("auth") or "client_credentials"
        need("SALESFORCE_CONSUMER_KEY", secrets.sf_consumer_key, "Salesforce auth")
        if auth in ("client_credentials", "password"):
            need("SALESFORCE_CONSUMER_SECRET", secrets.sf_consumer_secret, auth)
        if auth == "jwt":
            need("SALESFORCE_PRIVATE_KEY_FILE", secrets.sf_private_key_file, "JWT")
        if auth == "password":
            need("SALESFORCE_PASSWORD", secrets.sf_password, "legacy password flow")

    return problems


def sla_policy(policy: Policy) -> tuple[Any, dict[str, Any]]:
    """The SLA policy and the built calendars; ValueError names a bad key."""
    return _sla_from_raw(policy.raw)


def _sla_from_raw(raw: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    from rules.calendar import build_calendars, parse_calendars
    from rules.sla import parse_sla_config

    specs = parse_calendars(raw.get("calendars"))
    sla = parse_sla_config(
        raw.get("sla"),
        severity_raw=raw.get("severity"),
        calendar_specs=specs,
        env=os.environ,
    )
    return sla, build_calendars(specs)


def section_problems(raw: Mapping[str, Any], lines: Mapping[str, int]) -> list[Problem]:
    """Problems in the sections their own modules parse (SLA, calendars, triage)."""
    from rules.severity import parse_triage_config

    problems = []
    for check in (
        lambda: _sla_from_raw(raw),
        lambda: parse_triage_config(raw.get("triage")),
    ):
        try:
            check()
        except ValueError as exc:
            key, _, message = str(exc).partition(": ")
            line = lines.get(key) or lines.get(key.rsplit(".", 1)[0])
            problems.append(Problem(key, message or str(exc), line))

    return problems


def config_path(given: str | None = None) -> str:
    """The policy file: the given path, else $VIP_SIDECAR_CONFIG, else config.yaml."""
    load_dotenv(os.path.join(os.getcwd(), ".env"), override=False)
    return given or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG


def load_settings(
    path: str | None = None,
    *,
    allow_unsigned: bool = False,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Load .env, the policy and the secrets; raise PolicyError listing every
    problem: the file's, the environment's and those of each section."""
    load_dotenv(os.path.join(os.getcwd(), ".env"), override=False)
    env = os.environ if env is None else env
    path = path or env.get(ENV_CONFIG) or DEFAULT_CONFIG
    secrets = read_secrets(env)

    try:
        policy = load_policy(path)
    except PolicyError as exc:
        problems = list(exc.problems)
        if exc.raw is not None:
            problems += secret_problems(exc.raw, secrets, allow_unsigned=allow_unsigned)
            problems += section_problems(exc.raw, exc.lines)
        raise PolicyError(path, problems, exc.raw, exc.lines) from exc

    problems = secret_problems(policy.raw, secrets, allow_unsigned=allow_unsigned)
    problems += section_problems(policy.raw, policy.lines)
    if problems:
        raise PolicyError(path, problems, policy.raw, policy.lines)

    if allow_unsigned and not secrets.webhook_secret:
        log.warning("webhook signatures are NOT verified (--insecure-allow-unsigned)")

    return Settings(path, policy, secrets, allow_unsigned)
