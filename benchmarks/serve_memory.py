"""`vip-sidecar serve` on a real replay: resident memory and API economy.

Starts `vip-sidecar sandbox` and `vip-sidecar serve` (gunicorn, 2 worker
processes) as separate processes on 127.0.0.1, replays the shipped sample
tickets through the sandbox (which sends signed webhooks to serve), waits until
the inbox is drained, then prints:

- the resident memory (VmRSS) of serve's master and each worker, and the sum;
- Zendesk writes per ticket, split into tickets whose decision changed
  something (target 1) and the rest (target 0);
- Salesforce calls per distinct requester and per distinct account.

    .venv/bin/python benchmarks/serve_memory.py [--limit 200]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import yaml
from ports import free_port, wait_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REQUESTERS = (
    "dewi@nusantara-logistik.example",
    "evan@globex.example",
    "fitri@sinar-jaya.example",
    "gina@smallshop.example",
    "hadi.example@gmail.com",
    "indah.example@yahoo.co.id",
    "carol@uog.example",
    "joko@twin-holdings.example",
)
SANDBOX_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sb_port, web_port = free_port(), free_port()
        sandbox = _start(
            [
                str(BIN / "vip-sidecar"),
                "sandbox",
                "--port",
                str(sb_port),
                "--cert-dir",
                str(work / "tls"),
                "--webhook-url",
                f"http://127.0.0.1:{web_port}/webhooks/zendesk",
            ],  # fmt: skip
            work / "sandbox.log",
        )
        serve = None
        try:
            wait_port(sb_port)
            config = _config(work, sb_port, web_port, args.workers)
            serve = _start(
                [str(BIN / "vip-sidecar"), "serve", "--config", str(config)],
                work / "serve.log",
                env=_env(work),
            )
            wait_port(web_port)
            base = f"https://127.0.0.1:{sb_port}"
            context = ssl.create_default_context(cafile=str(work / "tls" / "cert.pem"))
            count = _replay(base, context, args.limit)
            _wait_drained(work / "serve.db")
            time.sleep(2)
            _print(serve.pid, base, context, work / "serve.db", count)
        finally:
            for process in (serve, sandbox):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)


def _start(command: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    handle = open(log, "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, env=env
    )


def _config(work: Path, sb_port: int, web_port: int, workers: int) -> Path:
    text = (ROOT / "sidecar" / "data" / "demo-config.yaml").read_text()
    raw = yaml.safe_load(text)
    raw["zendesk"]["base_url"] = f"https://127.0.0.1:{sb_port}"
    raw["salesforce"]["token_url"] = (
        f"https://127.0.0.1:{sb_port}/services/oauth2/token"
    )
    raw["store"] = {"url": f"sqlite:///{work / 'serve.db'}"}
    raw["server"] = {"bind": f"127.0.0.1:{web_port}", "workers": workers}
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _env(work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ZENDESK_EMAIL": "sidecar@example.com",
        "ZENDESK_API_TOKEN": "sandbox-token",
        "ZENDESK_WEBHOOK_SECRET": SANDBOX_SECRET,
        "SALESFORCE_CONSUMER_KEY": "sandbox-key",
        "SALESFORCE_CONSUMER_SECRET": "sandbox-secret",
        "VIP_SIDECAR_CA_BUNDLE": str(work / "tls" / "cert.pem"),
    }


def _replay(base: str, context: ssl.SSLContext, limit: int) -> int:
    path = ROOT / "sidecar" / "data" / "sample_tickets.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))[:limit]
    for position, row in enumerate(rows):
        subject = row["subject"].strip() or row["body"][:60]
        body = {
            "requester_email": REQUESTERS[position % len(REQUESTERS)],
            "subject": subject,
            "body": row["body"].strip() or subject,
        }
        _call(base + "/_sandbox/tickets", context, body)

    return len(rows)


def _call(url: str, context: ssl.SSLContext, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        return json.loads(response.read())


def _wait_drained(db: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        time.sleep(1)
        with sqlite3.connect(db) as conn:
            rows = dict(
                conn.execute("SELECT state, COUNT(*) FROM inbox GROUP BY state")
            )
        pending = sum(rows.get(s, 0) for s in ("queued", "claimed", "retry"))
        if pending == 0 and rows == last:
            return
        last = rows
    raise SystemExit(f"inbox not drained: {last}")


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB. PSS shares each page among the processes mapping it,
    so the PSS of master and workers add up to what they really use."""
    rss = pss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _print(pid: int, base: str, context: ssl.SSLContext, db: Path, count: int) -> None:
    workers = _children(pid)
    memory = {
        "master": _memory_kib(pid),
        **{f"worker {w}": _memory_kib(w) for w in workers},
    }
    print(f"serve after replaying {count} tickets (gunicorn, {len(workers)} workers):")
    for name, (rss, pss) in memory.items():
        print(f"  {name:14} RSS {rss / 1024:7.1f} MB   PSS {pss / 1024:7.1f} MB")
    total_rss = sum(rss for rss, _ in memory.values()) / 1024
    total_pss = sum(pss for _, pss in memory.values()) / 1024
    print(
        f"  total          RSS {total_rss:7.1f} MB   PSS {total_pss:7.1f} MB"
        " (target < 200 MB; PSS counts shared pages once)"
    )
    _print_economy(_call(base + "/_sandbox/calls", context), db, count)


def _print_economy(calls: dict, db: Path, count: int) -> None:
    with sqlite3.connect(db) as conn:
        states = [
            json.loads(row[0]) for row in conn.execute("SELECT data FROM tickets")
        ]
    vip = [s for s in states if s.get("vip")]
    changed = [s for s in vip if s.get("writes")]
    writes = sum(s.get("writes", 0) for s in states)
    accounts = {(s.get("account") or {}).get("account_id") for s in states} - {None}
    requesters = len({REQUESTERS[i % len(REQUESTERS)] for i in range(count)})
    sf = sum(
        calls.get(k, 0) for k in ("GET query", "GET query more", "POST oauth token")
    )
    print(
        f"  decision writes: {writes} for {len(changed)} tickets whose decision changed"
        f" something ({writes / max(len(changed), 1):.2f} per ticket, target 1);"
        f" {len(states) - len(changed)} other tickets, 0 writes"
    )
    print(
        f"  Salesforce calls: {sf} (tokens included) for {requesters} distinct"
        " requesters"
        f" and {len(accounts)} distinct accounts"
        f" = {sf / max(len(accounts), 1):.2f} per account in one TTL"
    )
    print(f"  sandbox calls by route: {json.dumps(calls, sort_keys=True)}")


if __name__ == "__main__":
    main()
