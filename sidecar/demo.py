"""``vip-sidecar demo``: the sidecar against the local sandbox on real tickets.

Starts the sandbox (Zendesk and Salesforce stand-ins over HTTPS on 127.0.0.1,
seeded with accounts of every tier, plain and free-mail requesters, and an
account whose contacts' domain differs from its website), starts the sidecar
on SQLite with the real connectors, replays tickets from a CSV as end users
would open them (the sandbox sends signed webhooks), lets agents answer some of
them, advances a simulated clock so that other first responses are missed,
runs the SLA sweep, and prints what happened.
"""

from __future__ import annotations

import csv
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from werkzeug.serving import make_server

from rules.config import parse_policy_text
from sidecar.clock import OffsetClock
from sidecar.sandbox import Sandbox, SandboxConfig, seed
from sidecar.settings import Settings, read_secrets

SIGNING_SECRET = "demo-signing-secret-change-me"
REQUESTERS = (
    ("dewi@nusantara-logistik.example", "Dewi Example"),
    ("evan@globex.example", "Evan Example"),
    ("fitri@sinar-jaya.example", "Fitri Example"),
    ("gina@smallshop.example", "Gina Example"),
    ("hadi.example@gmail.com", "Hadi Example"),
    ("indah.example@yahoo.co.id", "Indah Example"),
    ("carol@uog.example", "Carol Example"),
    ("joko@twin-holdings.example", "Joko Example"),
)
# Simulated minutes after the replay at which the sweep runs.
SWEEP_STEPS = (8, 13, 16, 31, 49, 61, 130, 200, 245)


@dataclass
class _Dispatcher:
    """A WSGI app whose target is set once the runtime exists."""

    target: Any = None

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.target(environ, start_response)


def run_demo(
    *,
    tickets: str | None,
    limit: int | None,
    mode: str,
    keep_running: bool,
    workdir: str,
) -> int:
    from sidecar.runtime import Runtime

    work = _fresh_workdir(workdir)
    clock = OffsetClock()
    dispatcher = _Dispatcher()
    server = make_server("127.0.0.1", 0, dispatcher, threaded=True)
    receiver = f"http://127.0.0.1:{server.server_port}/webhooks/zendesk"
    threading.Thread(target=server.serve_forever, daemon=True).start()

    sandbox = Sandbox(
        SandboxConfig(
            webhook_url=receiver,
            signing_secret=SIGNING_SECRET,
            webhook_mode=mode,
            cert_dir=str(work / "tls"),
        ),
        clock=clock,
    )
    sandbox.start()
    settings = _settings(sandbox, work)
    runtime = Runtime(settings, clock=clock)
    dispatcher.target = runtime.app
    runtime.start(scheduler=False)

    try:
        rows = list(_read_tickets(tickets, limit))
        print(f"Replaying {len(rows)} tickets from {tickets or 'the shipped sample'} ...")
        ticket_ids = _replay(sandbox, rows)
        _drain(sandbox, runtime)
        answered = _agents_answer(sandbox, runtime, ticket_ids)
        alerts = _advance_and_sweep(sandbox, runtime, clock)
        print(_summary(sandbox, runtime, ticket_ids, answered, alerts, work))
        if keep_running:
            _keep_running(sandbox, runtime, receiver, work)
    finally:
        runtime.stop()
        sandbox.stop()
        server.shutdown()

    return 0


def _fresh_workdir(workdir: str) -> Path:
    work = Path(workdir)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    return work


def _settings(sandbox: Sandbox, work: Path) -> Settings:
    example = resources.files("sidecar").joinpath("data/demo-config.yaml").read_text()
    raw = yaml.safe_load(example)
    raw["zendesk"]["base_url"] = sandbox.url
    raw["salesforce"]["token_url"] = f"{sandbox.url}/services/oauth2/token"
    raw["store"] = {"url": f"sqlite:///{work / 'demo.db'}"}
    text = yaml.safe_dump(raw, sort_keys=False)
    config_path = work / "config.yaml"
    config_path.write_text(text)

    env = {
        "ZENDESK_EMAIL": sandbox.config.api_user_email,
        "ZENDESK_API_TOKEN": sandbox.config.api_token,
        "ZENDESK_WEBHOOK_SECRET": SIGNING_SECRET,
        "SALESFORCE_CONSUMER_KEY": sandbox.config.sf_consumer_key,
        "SALESFORCE_CONSUMER_SECRET": sandbox.config.sf_consumer_secret,
        "VIP_SIDECAR_CA_BUNDLE": sandbox.ca_file,
    }
    (work / "demo.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    policy = parse_policy_text(text, str(config_path))
    return Settings(str(config_path), policy, read_secrets(env))


def _read_tickets(path: str | None, limit: int | None) -> Iterator[dict[str, str]]:
    if path is None:
        source = resources.files("sidecar").joinpath("data/sample_tickets.csv")
        handle = source.open("r", encoding="utf-8", newline="")
    else:
        handle = open(path, encoding="utf-8", newline="")

    with handle:
        reader = csv.DictReader(handle)
        missing = {"subject", "body"} - set(reader.fieldnames or ())
        if missing:
            raise SystemExit(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        count = 0
        for row in reader:
            if not (row.get("subject") or row.get("body")):
                continue
            yield row
            count += 1
            if limit is not None and count >= limit:
                return


def _replay(sandbox: Sandbox, rows: list[dict[str, str]]) -> list[int]:
    ids = []
    for position, row in enumerate(rows):
        email, name = REQUESTERS[position % len(REQUESTERS)]
        subject = (row.get("subject") or "").strip() or (row.get("body") or "")[:60]
        body = (row.get("body") or "").strip() or subject
        ids.append(sandbox.create_ticket(email, subject, body, requester_name=name))

    return ids


def _drain(sandbox: Sandbox, runtime: Any, timeout: float = 180) -> None:
    """Wait until every webhook is delivered and every inbox event handled."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sandbox.flush_webhooks(timeout=max(deadline - time.monotonic(), 1))
        counts = runtime.store.inbox_counts()
        if not any(counts.get(state, 0) for state in ("queued", "claimed", "retry")):
            return
        time.sleep(0.2)

    raise SystemExit(f"the inbox did not drain in {timeout:.0f} s: {runtime.store.inbox_counts()}")


def _agents_answer(sandbox: Sandbox, runtime: Any, ticket_ids: list[int]) -> set[int]:
    """Agents answer every third VIP ticket within minutes."""
    answered = set()
    vip = [t for t in ticket_ids if (runtime.store.get_ticket(t) or {}).get("vip")]
    for ticket_id in vip[::3]:
        sandbox.agent_reply(ticket_id, "Thanks for reaching out, we are on it.")
        answered.add(ticket_id)
    _drain(sandbox, runtime)

    return answered


def _advance_and_sweep(sandbox: Sandbox, runtime: Any, clock: OffsetClock) -> Counter:
    totals: Counter = Counter()
    elapsed = 0
    for minute in SWEEP_STEPS:
        clock.advance(timedelta(minutes=minute - elapsed))
        elapsed = minute
        for _ in range(2):  # a second sweep at the same moment must post nothing
            result = runtime.sweep()
            totals.update({k: v for k, v in result.items() if isinstance(v, int)})
        _drain(sandbox, runtime)

    return totals


def _summary(
    sandbox: Sandbox,
    runtime: Any,
    ticket_ids: list[int],
    answered: set[int],
    alerts: Counter,
    work: Path,
) -> str:
    from sidecar.report import demo_figures

    figures = demo_figures(runtime, sandbox, ticket_ids)
    lines = ["", "=== vip-sidecar demo summary ==="]
    lines += [f"{key}: {value}" for key, value in figures.items()]
    lines.append(f"VIP tickets answered by an agent in time: {len(answered)}")
    lines.append(
        "SLA alerts posted: "
        f"{alerts.get('warnings', 0)} warnings, {alerts.get('breaches', 0)} breaches, "
        f"{alerts.get('renotified', 0)} re-notifications "
        f"(each sweep ran twice per step; the second posted nothing)"
    )
    sample = next((t for t in ticket_ids if (runtime.store.get_ticket(t) or {}).get("vip")), None)
    lines += ["", "Inspect a ticket:"]
    lines.append(f"  set -a; . {work}/demo.env; set +a")
    lines.append(f"  .venv/bin/vip-sidecar sla explain {sample} --config {work}/config.yaml")
    lines.append(f"  .venv/bin/vip-sidecar report --config {work}/config.yaml")
    lines.append(
        "  (with --keep-running) curl --cacert "
        f"{work}/tls/cert.pem {sandbox.url}/_sandbox/tickets/{sample}"
    )
    return "\n".join(lines)


def _keep_running(sandbox: Sandbox, runtime: Any, receiver: str, work: Path) -> None:
    runtime.start_scheduler() if hasattr(runtime, "start_scheduler") else None
    print(f"\nSandbox: {sandbox.url}  (CA: {sandbox.ca_file})")
    print(f"Sidecar webhook receiver: {receiver}")
    print("Running until Ctrl-C ...")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print("stopping")


