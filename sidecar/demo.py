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
import io
import logging
import shutil
import sys
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
from werkzeug.serving import WSGIRequestHandler, make_server

from rules.config import parse_policy_text
from sidecar.clock import OffsetClock
from sidecar.sandbox import Sandbox, SandboxConfig
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
POSTED = ("warnings", "breaches", "renotified")
# Simulated minutes after the replay at which the sweep runs.
SWEEP_STEPS = (8, 13, 16, 31, 49, 61, 130, 200, 245)


class _QuietHandler(WSGIRequestHandler):
    """No access log: request lines are noise here, and URLs may carry ids."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class _Dispatcher:
    """A WSGI app whose target is set once the runtime exists."""

    target: Any = None

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.target(environ, start_response)


class LocalStack:
    """The sandbox and a sidecar runtime wired together on 127.0.0.1.

    The sidecar's webhook receiver runs on a werkzeug server in a thread; the
    sandbox sends its signed webhooks there. Both share one simulated clock.
    Used by the demo and by the end-to-end tests.
    """

    def __init__(
        self,
        workdir: str | Path,
        *,
        mode: str = "trigger",
        config: dict[str, dict] | None = None,
        **sandbox: Any,
    ) -> None:
        self.work = Path(workdir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.clock = OffsetClock()
        self._advanced = 0.0
        self._dispatcher = _Dispatcher()
        self._server = make_server(
            "127.0.0.1",
            0,
            self._dispatcher,
            threaded=True,
            request_handler=_QuietHandler,
        )
        self.receiver = f"http://127.0.0.1:{self._server.server_port}/webhooks/zendesk"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.sandbox = Sandbox(
            SandboxConfig(
                webhook_url=self.receiver,
                signing_secret=SIGNING_SECRET,
                webhook_mode=mode,
                cert_dir=str(self.work / "tls"),
                **sandbox,
            ),
            clock=self.clock,
        )
        self.sandbox.start()
        self.settings = _settings(self.sandbox, self.work, config)
        self.runtime: Any = None

    def start_sidecar(self, *, worker: bool = True) -> Any:
        """A new runtime on the same store (a restart, when one ran before)."""
        from sidecar.runtime import Runtime

        self.runtime = Runtime(self.settings, clock=self.clock)
        self._dispatcher.target = self.runtime.app
        if worker:
            self.runtime.start(scheduler=False)
        return self.runtime

    def drain(self, timeout: float = 180) -> None:
        """Wait until every webhook is delivered and every inbox event handled."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sandbox.flush_webhooks(timeout=max(deadline - time.monotonic(), 1))
            counts = self.runtime.store.inbox_counts()
            if not any(
                counts.get(state, 0) for state in ("queued", "claimed", "retry")
            ):
                return
            time.sleep(0.05)

        counts = self.runtime.store.inbox_counts()
        raise TimeoutError(f"the inbox did not drain in {timeout:.0f} s: {counts}")

    def advance(self, minutes: float) -> None:
        self.clock.advance(timedelta(minutes=minutes))
        self._advanced += minutes

    def clock_offset_hours(self) -> float:
        """How far the simulated clock has been moved ahead, in hours."""
        return self._advanced / 60

    def stop(self) -> None:
        if self.runtime is not None:
            self.runtime.stop()
        self.sandbox.stop()
        self._server.shutdown()

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_demo(
    *,
    tickets: str | None,
    limit: int | None,
    mode: str,
    keep_running: bool,
    workdir: str,
) -> int:
    if tickets is not None and not Path(tickets).is_file():
        raise SystemExit(f"demo: no such file: {tickets}")
    rows = list(_read_tickets(tickets, limit))
    if not rows:
        raise SystemExit("demo: nothing to replay (no rows with a subject or body)")
    work = _fresh_workdir(workdir)
    _log_to_file(work / "demo.log")
    stack = LocalStack(work, mode=mode)
    stack.start_sidecar()

    try:
        print(
            f"Replaying {len(rows)} tickets from {tickets or 'the shipped sample'} ..."
        )
        ticket_ids = _replay(stack.sandbox, rows)
        stack.drain()
        answered = _agents_answer(stack, ticket_ids)
        followed = _customers_write_again(stack, ticket_ids, answered)
        alerts = _advance_and_sweep(stack)
        _solve_and_rate(stack, answered)
        print(_summary(stack, ticket_ids, answered, alerts, followed))
        if keep_running:
            _keep_running(stack)
    finally:
        stack.stop()

    return 0


def _log_to_file(path: Path) -> None:
    """The demo prints a summary; the sidecar's own log lines go to a file."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _fresh_workdir(workdir: str) -> Path:
    work = Path(workdir)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    return work


def _settings(
    sandbox: Sandbox, work: Path, overrides: dict[str, dict] | None = None
) -> Settings:
    example = resources.files("sidecar").joinpath("data/demo-config.yaml").read_text()
    raw = yaml.safe_load(example)
    for section, values in (overrides or {}).items():
        raw[section] = {**raw.get(section, {}), **values}
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


# A ticket body can be long (forwarded mail, logs); csv's default cap is 128 KiB.
csv.field_size_limit(16 * 1024 * 1024)


def _read_tickets(path: str | None, limit: int | None) -> Iterator[dict[str, str]]:
    """Rows with a subject or a body; column names are matched loosely."""
    if path is None:
        source = resources.files("sidecar").joinpath("data/sample_tickets.csv")
        text = source.read_text(encoding="utf-8")
    else:
        text = _decode(Path(path).read_bytes(), path)

    reader = csv.DictReader(io.StringIO(text, newline=""))
    reader.fieldnames = [
        (name or "").strip().lower() for name in reader.fieldnames or ()
    ]
    missing = {"subject", "body"} - set(reader.fieldnames)
    if missing:
        raise SystemExit(f"{path}: missing column(s) {', '.join(sorted(missing))}")

    count = 0
    for row in reader:
        if limit is not None and count >= limit:
            return
        if not (row.get("subject") or row.get("body")):
            continue
        yield row
        count += 1


def _decode(data: bytes, path: str) -> str:
    """UTF-8 (with or without Excel's byte-order mark), else Latin-1."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        print(f"{path}: not UTF-8; read as Latin-1", file=sys.stderr)
        return data.decode("latin-1")


def _replay(sandbox: Sandbox, rows: list[dict[str, str]]) -> list[int]:
    ids = []
    for position, row in enumerate(rows):
        email, name = REQUESTERS[position % len(REQUESTERS)]
        subject = (row.get("subject") or "").strip() or (row.get("body") or "")[:60]
        body = (row.get("body") or "").strip() or subject
        ids.append(sandbox.create_ticket(email, subject, body, requester_name=name))

    return ids


def _agents_answer(stack: LocalStack, ticket_ids: list[int]) -> set[int]:
    """Agents answer every third VIP ticket within minutes."""
    answered = set()
    store = stack.runtime.store
    vip = [t for t in ticket_ids if (store.get_ticket(t) or {}).get("vip")]
    stack.advance(4)
    for ticket_id in vip[::3]:
        stack.sandbox.agent_reply(ticket_id, "Thanks for reaching out, we are on it.")
        answered.add(ticket_id)
    stack.drain()

    return answered


def _followups() -> list[str]:
    """Real Indonesian service complaints (IndoNLU SmSA, CC BY-SA 4.0)."""
    source = resources.files("sidecar").joinpath("data/sample_followups_id.csv")
    reader = csv.DictReader(io.StringIO(source.read_text(encoding="utf-8")))

    return [row["text"] for row in reader if row.get("text")]


def _customers_write_again(
    stack: LocalStack, ticket_ids: list[int], answered: set[int]
) -> list[int]:
    """Every third unanswered VIP requester writes again, in Indonesian."""
    store = stack.runtime.store
    waiting = [
        t
        for t in ticket_ids
        if t not in answered and (store.get_ticket(t) or {}).get("vip")
    ]
    texts = _followups()
    followed = waiting[::3]
    for number, ticket_id in enumerate(followed):
        stack.sandbox.customer_reply(ticket_id, texts[number % len(texts)])
    stack.drain()

    return followed


def _advance_and_sweep(stack: LocalStack) -> Counter:
    """Sweep at each step; a second sweep at the same moment must post nothing."""
    totals: Counter = Counter()
    elapsed = 4
    for minute in SWEEP_STEPS:
        stack.advance(minute - elapsed)
        elapsed = minute
        first = stack.runtime.sweep()
        stack.drain()
        again = stack.runtime.sweep()
        stack.drain()
        totals.update({k: v for k, v in first.items() if k in POSTED})
        totals["posted by repeated sweeps"] += sum(again.get(k, 0) for k in POSTED)
        totals["late"] += first.get("late", 0)

    return totals


def _solve_and_rate(stack: LocalStack, answered: set[int]) -> None:
    """Agents solve the answered tickets; their requesters rate the service
    (bad where they had been frustrated), as the CSAT survey would."""
    store = stack.runtime.store
    for ticket_id in sorted(answered):
        stack.sandbox.agent_reply(ticket_id, "This is fixed now.", status="solved")
        frustrated = (
            (store.get_ticket(ticket_id) or {}).get("frustration") or 0
        ) >= 0.5
        stack.sandbox.rate_ticket(ticket_id, "bad" if frustrated else "good")
    stack.drain()


def _summary(
    stack: LocalStack,
    ticket_ids: list[int],
    answered: set[int],
    alerts: Counter,
    followed: list[int],
) -> str:
    from sidecar.explain import explain_ticket
    from sidecar.report import build_report, demo_figures, fetch_ratings, render_report

    runtime, work = stack.runtime, stack.work
    figures = demo_figures(
        runtime,
        stack.sandbox,
        ticket_ids,
        requesters=min(len(REQUESTERS), len(ticket_ids)),
        simulated_hours=stack.clock_offset_hours(),
    )
    lines = ["", "=== vip-sidecar demo summary ==="]
    lines += [f"{key}: {value}" for key, value in figures.items()]
    lines.append(f"VIP tickets answered by an agent within 4 minutes: {len(answered)}")
    lines.append(
        f"unanswered VIP requesters who wrote again (real Indonesian complaints "
        f"from IndoNLU SmSA): {len(followed)}"
    )
    lines.append(
        f"SLA alerts posted: {alerts['warnings']} warnings, {alerts['breaches']} "
        f"breaches, {alerts['renotified']} re-notifications ({alerts['late']} "
        "posted late, saying how late); repeated sweeps at the same moment "
        f"posted {alerts['posted by repeated sweeps']}"
    )

    sample = _sample_ticket(runtime, ticket_ids)
    if sample is not None:
        lines += ["", f"--- the decision note on ticket {sample} ---"]
        lines.append(_decision_note(stack, sample))
        lines += ["", f"--- vip-sidecar sla explain {sample} (simulated time) ---"]
        lines.append(
            explain_ticket(
                runtime.store,
                runtime.zendesk,
                runtime.sla,
                sample,
                stack.clock.now(),
                calendars=runtime.calendars,
            )
        )
    raised = [t for t in followed if (runtime.store.get_ticket(t) or {}).get("raised")]
    if raised:
        lines += [
            "",
            f"--- raised for frustration after a follow-up: ticket {raised[0]} ---",
            _decision_note(stack, raised[0]),
        ]

    lines += ["", "--- vip-sidecar report --since 1 ---"]
    ratings = fetch_ratings(runtime.zendesk, timedelta(days=1), stack.clock.now())
    lines.append(render_report(build_report(runtime.store, ratings)))
    lines += ["", "Inspect afterwards (the store stays in " + str(work) + "):"]
    lines.append(f"  .venv/bin/vip-sidecar report --config {work}/config.yaml")
    lines.append(f"  .venv/bin/vip-sidecar inbox --config {work}/config.yaml")
    lines.append(
        f"  set -a; . {work}/demo.env; set +a; .venv/bin/vip-sidecar sla explain "
        f"{sample} --config {work}/config.yaml"
    )
    lines.append(f"  the sidecar's log: {work}/demo.log")
    return "\n".join(lines)


def _sample_ticket(runtime: Any, ticket_ids: list[int]) -> int | None:
    """The most severe ticket of the best tier (ties: the first replayed)."""
    states = {t: runtime.store.get_ticket(t) or {} for t in ticket_ids}
    vip = [t for t, state in states.items() if state.get("vip")]
    if not vip:
        return None

    def rank(ticket_id: int) -> tuple[str, int]:
        state = states[ticket_id]
        tier = runtime.policy.tier(state.get("tier"))
        return str(state.get("severity")), tier.rank if tier else 99

    return min(vip, key=rank)


def _decision_note(stack: LocalStack, ticket_id: int) -> str:
    comments = stack.sandbox.ticket(ticket_id)["comments"]
    notes = [c["body"] for c in comments if "[vip-sidecar decision]" in c["body"]]
    return notes[-1] if notes else "(no decision note)"


def _keep_running(stack: LocalStack) -> None:
    stack.runtime.start_scheduler()
    print(f"\nSandbox: {stack.sandbox.url}  (CA: {stack.sandbox.ca_file})")
    print(f"Sidecar webhook receiver: {stack.receiver}")
    print(f"Sidecar log: {stack.work / 'demo.log'}")
    print("Running until Ctrl-C ...")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print("stopping")
