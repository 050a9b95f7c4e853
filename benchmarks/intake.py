"""Intake benchmark: signed POST /webhooks/zendesk under gunicorn, beside a bare
Flask endpoint under the same server, in the same run.

Prints, for each app: the throughput with concurrent keep-alive clients
(requests per second) and the latency percentiles at a paced 100 requests per
second. Every request is a distinct, correctly signed trigger webhook, so each
one is verified and stored (a real insert, not a duplicate).

    .venv/bin/python benchmarks/intake.py [--requests 4000] [--clients 8]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ports import free_port, wait_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret"


APPS = (("bare Flask", "bare_app()"), ("webhook", "webhook_app()"))


def main() -> None:
    args = _args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "BENCH_STORE_URL": f"sqlite:///{tmp}/intake.db",
            "BENCH_SECRET": SECRET,
            "PYTHONPATH": str(ROOT),
        }
        throughput: dict[str, list[float]] = {name: [] for name, _ in APPS}
        latencies: dict[str, list[float]] = {name: [] for name, _ in APPS}
        # Alternate the two apps round by round, so a noisy moment on the
        # machine does not favour one of them; report the median round.
        for _ in range(args.rounds):
            for name, factory in APPS:
                rps, paced = _measure(factory, env, args)
                throughput[name].append(rps)
                latencies[name].extend(paced)

    rows = [(n, statistics.median(throughput[n]), latencies[n]) for n, _ in APPS]
    _print(rows, throughput, args)


def _measure(factory: str, env: dict, args: argparse.Namespace) -> tuple[float, list]:
    port = free_port()
    server = _start_gunicorn(factory, port, args.workers, env)
    try:
        wait_port(port)
        rps = _throughput(port, args.requests, args.clients)
        paced = _paced(port, args.rate, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=20)

    return rps, paced


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args()


def _start_gunicorn(
    factory: str, port: int, workers: int, env: dict
) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--worker-class", "gthread",
        "--threads", "4",
        "--log-level", "warning",
        f"benchmarks.intake_apps:{factory}",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env)


_counter = iter(range(10**9))
_counter_lock = threading.Lock()


def _signed_request() -> tuple[bytes, dict[str, str]]:
    with _counter_lock:
        number = next(_counter)
    ticket = 100000 + number
    body = json.dumps({
        "source": "zendesk-trigger",
        "ticket_id": str(ticket),
        "ticket_updated_at": "2026-12-04T10:00:00Z",
        "status": "Open",
        "priority": "High",
        "requester_id": "42",
        "requester_email": "someone@example.com",
        "organization_id": "",
        "tags": "vip",
        "current_user_id": "42",
    }).encode()  # fmt: skip
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hmac.new(SECRET.encode(), stamp.encode() + body, hashlib.sha256).digest()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        "X-Zendesk-Webhook-Invocation-Id": f"bench-{number}",
    }
    return body, headers


def _post(connection: http.client.HTTPConnection) -> float:
    body, headers = _signed_request()
    started = time.perf_counter()
    connection.request("POST", "/webhooks/zendesk", body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    if response.status >= 300:
        raise SystemExit(f"unexpected answer {response.status}")
    return time.perf_counter() - started


def _throughput(port: int, total: int, clients: int) -> float:
    per_client = total // clients

    def run() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(per_client):
            _post(connection)
        connection.close()

    threads = [threading.Thread(target=run) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    return per_client * clients / (time.perf_counter() - started)


def _paced(port: int, rate: float, seconds: float) -> list[float]:
    """Open-loop pacing: requests start on schedule from a small client pool."""
    count = int(rate * seconds)
    interval = 1.0 / rate
    latencies: list[float] = []
    lock = threading.Lock()
    start = time.perf_counter() + 0.2
    slots = iter(range(count))

    def run() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while True:
            with lock:
                slot = next(slots, None)
            if slot is None:
                break
            due = start + slot * interval
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            _post(connection)
            # Latency as the sender sees it: from the scheduled start.
            with lock:
                latencies.append(time.perf_counter() - due)
        connection.close()

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    return latencies


def _print(rows: list, throughput: dict, args: argparse.Namespace) -> None:
    print(
        f"gunicorn gthread, {args.workers} workers x 4 threads; throughput: "
        f"{args.requests} requests from {args.clients} keep-alive clients; "
        f"latency: {args.rate:g} req/s for {args.seconds:g} s; median of "
        f"{args.rounds} alternating rounds"
    )
    columns = ("req/s", "p50 ms", "p95 ms", "p99 ms", "max ms")
    print(f"{'app':12} " + " ".join(f"{c:>8}" for c in columns))
    for name, rps, latencies in rows:
        ordered = sorted(latencies)

        def p(q: float, ordered: list[float] = ordered) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

        print(
            f"{name:12} {rps:8.0f} {statistics.median(ordered) * 1000:8.2f} "
            f"{p(0.95):8.2f} {p(0.99):8.2f} {ordered[-1] * 1000:8.2f}"
        )
    for name, values in throughput.items():
        print(f"{name} req/s per round: " + ", ".join(f"{v:.0f}" for v in values))
    bare, hook = rows[0][1], rows[1][1]
    print(f"webhook throughput / bare throughput = {hook / bare:.2f} (target >= 0.50)")


if __name__ == "__main__":
    main()
