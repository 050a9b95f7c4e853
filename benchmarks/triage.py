"""Time severity and frustration triage of one ticket (subject + 2 KB body).

Run from the repository root: ``python benchmarks/triage.py [--tickets N]``.
Prints the median and 95th percentile per ticket; the target is a median
under 2 ms. Then times hostile bodies (blank lines, unclosed HTML comments and
scripts, stray brackets, a 10 MB body) that must stay well under a second.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rules.frustration import score_frustration  # noqa: E402
from rules.severity import classify_severity, load_default_policy  # noqa: E402

SUBJECTS = [
    "Production down since 9am",
    "Export button not working",
    "How do I change the invoice logo?",
    "Sistem down total, mohon segera",
    "Data transaksi hilang setelah update",
    "Feature request: dark mode",
]
SENTENCES = [
    "Our team cannot open the dashboard and the reports page shows an error.",
    "We are still waiting for an answer from your team, this is the third time.",
    "Aplikasi tidak bisa diakses sama sekali dari semua cabang kami.",
    "Sudah berkali-kali kami laporkan tetapi belum ada tanggapan.",
    "Please let us know when the fix will be deployed to our tenant.",
    "The invoice for March is attached for your reference.",
    "Mohon info kapan perbaikan akan selesai, terima kasih.",
    "<p>Steps: open the app, click <b>Export</b>, wait.</p>",
    "2024-05-01 10:00:00 ERROR worker crashed with exit code 137",
]


def make_body(rng: random.Random, size: int = 2048) -> str:
    parts: list[str] = []
    while sum(len(p) + 1 for p in parts) < size:
        parts.append(rng.choice(SENTENCES))

    return "\n".join(parts)[:size]


HOSTILE = {
    "40,000 newlines": "\n" * 40_000,
    "20,000 blank lines with spaces": " \n" * 20_000,
    "10,000 unclosed <!--": "<!--" * 10_000,
    "10,000 unclosed <script>": "<script>" * 10_000,
    "40,000 stray <": "<" * 40_000,
    "20,000 quote lines": ">\n" * 20_000,
    "10 MB of words": "production is down " * 550_000,
}


def time_hostile(policy) -> None:
    """The worst single ticket of each hostile kind, severity and frustration."""
    for name, body in HOSTILE.items():
        started = time.perf_counter()
        classify_severity("Help", body, policy=policy)
        score_frustration([body], policy)
        print(f"hostile body, {name}: {(time.perf_counter() - started) * 1000:.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=2000)
    args = parser.parse_args(argv)

    rng = random.Random(7)
    policy = load_default_policy()
    tickets = [(rng.choice(SUBJECTS), make_body(rng)) for _ in range(args.tickets)]
    score_frustration([tickets[0][1]], policy)

    timings = []
    for subject, body in tickets:
        started = time.perf_counter()
        classify_severity(subject, body, ticket_type="incident", policy=policy)
        score_frustration([body], policy)
        timings.append((time.perf_counter() - started) * 1000)

    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(f"triage of {len(timings)} tickets (subject + 2 KB body)")
    print(f"median {statistics.median(timings):.3f} ms, p95 {p95:.3f} ms")
    time_hostile(policy)

    return 0


if __name__ == "__main__":
    raise SystemExit(main())
