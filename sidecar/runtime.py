"""Wiring: builds the store, connectors, pipeline, worker, sweep and web app.

One :class:`Runtime` per process. ``serve`` builds one inside each web worker
process (after the fork), the demo builds one beside the sandbox. The SLA
sweep runs under a lease in the store, so however many processes or replicas
run, one sweep runs at a time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from connector.salesforce import (
    SalesforceConnector,
    SalesforceFields,
    SalesforceSettings,
)
from connector.zendesk import ZendeskConnector, ZendeskSettings
from rules.config import PolicyError, load_policy
from rules.severity import parse_triage_config
from sidecar.clock import Clock, SystemClock
from sidecar.enrich import FREE_MAIL_DEFAULT, AccountResolver
from sidecar.pipeline import Pipeline
from sidecar.settings import Settings, sla_policy
from sidecar.store import Store
from sidecar.sweep import Sweeper, make_chat_notifier
from sidecar.worker import Worker
from webhooks.app import create_app

log = logging.getLogger(__name__)

SWEEP_LEASE = "sla-sweep"


@dataclass
class Runtime:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    holder: str = field(
        default_factory=lambda: (
            f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        )
    )

    def __post_init__(self) -> None:
        policy = self.settings.policy
        self.policy = policy
        self.store = Store(policy.store_url)
        self.store.create_all()
        self.zendesk = ZendeskConnector(zendesk_settings(self.settings))
        self.salesforce = self._salesforce()
        self.resolver = self._resolver()
        self.sla, self.calendars = sla_policy(policy)
        self._api_user_id = policy.zendesk.api_user_id
        self._api_user_lock = threading.Lock()
        self.sweeper = Sweeper(
            self.store,
            self.zendesk,
            policy_provider=lambda: self.sla,
            calendars_provider=lambda: self.calendars,
            clock=self.clock,
            notifier=make_chat_notifier(self.sla.chat_url)
            if self.sla.chat_url
            else None,
            ticket_url=self.ticket_url,
        )
        self.pipeline = Pipeline(
            policy=policy,
            triage=parse_triage_config(policy.raw.get("triage")),
            store=self.store,
            zendesk=self.zendesk,
            resolver=self.resolver,
            sweeper=self.sweeper,
            clock=self.clock,
            api_user_id=self.api_user_id,
        )
        self.worker = Worker(
            self.store,
            self.pipeline.handle,
            clock=self.clock,
            worker_id=self.holder,
            poll_interval=policy.worker_poll_seconds,
        )
        self.scheduler: BackgroundScheduler | None = None
        self.last_sweep: dict[str, Any] = {}
        self._config_mtime = _mtime(self.settings.config_path)
        self.app = create_app(
            store=self.store,
            signing_secret=self.settings.secrets.webhook_secret or None,
            allow_unsigned=self.settings.allow_unsigned,
            max_body_bytes=policy.max_body_bytes,
            tolerance_seconds=policy.signature_tolerance_seconds,
            readiness=self.readiness,
        )

    def _salesforce(self) -> SalesforceConnector | None:
        if not self.policy.salesforce.enabled:
            return None

        return SalesforceConnector(salesforce_settings(self.settings))

    def _resolver(self) -> AccountResolver | None:
        if self.salesforce is None:
            return None
        sf = self.policy.salesforce

        return AccountResolver(
            self.salesforce,
            self.store,
            ttl_seconds=sf.cache_ttl_seconds,
            free_mail=FREE_MAIL_DEFAULT | frozenset(sf.free_mail_domains),
        )

    def api_user_id(self) -> int | None:
        """The sidecar's own Zendesk user (loop guard), asked for once, lazily."""
        with self._api_user_lock:
            if self._api_user_id is None:
                self._api_user_id = self.zendesk.fetch_me()

            return self._api_user_id

    def ticket_url(self, ticket_id: int) -> str:
        base = (
            self.policy.zendesk.base_url
            or f"https://{self.policy.zendesk.subdomain}.zendesk.com"
        )
        return f"{base}/agent/tickets/{ticket_id}"

    def sweep(self) -> dict[str, Any]:
        """One sweep, if this process holds the lease (the scheduler's job).

        Every process checks the config file first, so a changed SLA policy
        reaches the pipeline's clocks in each process, not only the sweeper's.
        """
        self._reload_policy_if_changed()
        now = self.clock.now()
        ttl = max(self.policy.sweep_interval_seconds * 3, 30)
        if not self.store.acquire_lease(SWEEP_LEASE, self.holder, now, ttl):
            return {"skipped": "another process holds the sweep lease"}

        self.last_sweep = self.sweeper.run_once()
        return self.last_sweep

    def _reload_policy_if_changed(self) -> None:
        mtime = _mtime(self.settings.config_path)
        if mtime is None or mtime == self._config_mtime:
            return
        self._config_mtime = mtime
        try:
            self.sla, self.calendars = sla_policy(
                load_policy(self.settings.config_path)
            )
        except (PolicyError, ValueError) as exc:
            log.error(
                "config changed but is invalid; keeping the old SLA policy: %s", exc
            )
            return
        log.warning(
            "config changed: SLA targets, calendars and escalation reloaded; "
            "other changes (tiers, VIP rules, priorities, triage) need a restart"
        )

    def start(self, *, scheduler: bool = True) -> None:
        self.worker.start()
        if scheduler:
            self.start_scheduler()

    def start_scheduler(self) -> None:
        if self.scheduler is None:
            self.scheduler = BackgroundScheduler(timezone="UTC")
            self.scheduler.add_job(
                self.sweep,
                "interval",
                seconds=self.policy.sweep_interval_seconds,
                id="sla-sweep",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
            self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.worker.stop()
        self.store.release_lease(SWEEP_LEASE, self.holder)

    def readiness(self) -> dict[str, Any]:
        running = self.scheduler is not None and self.scheduler.running
        return {"ready": running, "scheduler": "running" if running else "stopped"}


def zendesk_settings(settings: Settings) -> ZendeskSettings:
    zd = settings.policy.zendesk
    return ZendeskSettings(
        subdomain=zd.subdomain,
        email=settings.secrets.zendesk_email,
        token=settings.secrets.zendesk_token,
        base_url=zd.base_url,
        ca_bundle=settings.secrets.ca_bundle or None,
        timeout=zd.timeout_seconds,
        ratelimit_budget=zd.ratelimit_budget_seconds,
    )


def salesforce_settings(settings: Settings) -> SalesforceSettings:
    sf = settings.policy.salesforce
    secrets = settings.secrets
    return SalesforceSettings(
        domain=sf.domain,
        auth=sf.auth,
        consumer_key=secrets.sf_consumer_key,
        consumer_secret=secrets.sf_consumer_secret,
        username=sf.username,
        private_key_file=secrets.sf_private_key_file or None,
        password=secrets.sf_password,
        token_url=sf.token_url,
        api_version=sf.api_version,
        ca_bundle=secrets.ca_bundle or None,
        timeout=sf.timeout_seconds,
        fields=SalesforceFields(**sf.fields),
    )


def _mtime(path: str) -> float | None:
    try:
        return os.path.getmtime(path)
    except OSError:
        return None
