"""Write the demo's customer follow-ups, sidecar/data/sample_followups_id.csv.

Run from the repository root, pointing at the folder that holds
``indonlu_smsa_sentiment_id.csv`` (columns ``id, text, label, ...``)::

    python scripts/sample_followups.py DATA_DIR/sentiment

The demo has customers whose tickets nobody answered write again. Their words
are real Indonesian complaints about services (telcos, banks, couriers, apps)
from IndoNLU SmSA: a seeded random sample of the negative rows, 40 to 300
characters long, that name a service topic. The choice is by label, length and
topic only, never by what the sidecar makes of the text. IndoNLU SmSA is CC
BY-SA 4.0 (Purwarianti and Crisdayanti 2019; Wilie et al. 2020), and so is
the file this script writes.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
from pathlib import Path

SOURCE = "indonlu_smsa_sentiment_id.csv"
ROWS = 40
SEED = 2026
MIN_CHARS, MAX_CHARS = 40, 300
TOPIC = re.compile(
    r"\b(?:pelayanan|layanan|cs|customer service|operator|telkomsel|indihome|"
    r"indosat|xl|jaringan|sinyal|internet|pulsa|paket|kuota|aplikasi|akun|"
    r"transaksi|saldo|bank|atm|kartu|kurir|pengiriman|paket|tiket|refund|"
    r"komplain|keluhan|gangguan|teknisi)\b",
    re.I,
)


def pick(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The seeded sample of negative, service-topic rows of a usable length."""
    eligible = [
        row
        for row in rows
        if row["label"] == "negative"
        and MIN_CHARS <= len(row["text"]) <= MAX_CHARS
        and TOPIC.search(row["text"])
    ]

    return random.Random(SEED).sample(eligible, min(ROWS, len(eligible)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="folder with the sentiment CSVs")
    default_out = Path(__file__).resolve().parents[1] / "sidecar/data"
    parser.add_argument(
        "--out", type=Path, default=default_out / "sample_followups_id.csv"
    )
    args = parser.parse_args(argv)

    with (args.data_dir / SOURCE).open(encoding="utf-8", newline="") as handle:
        rows = pick(list(csv.DictReader(handle)))

    with args.out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "label", "source"])
        for row in rows:
            writer.writerow([row["id"], row["text"], row["label"], "indonlu_smsa"])

    print(f"wrote {len(rows)} follow-ups to {args.out}")

    return 0


if __name__ == "__main__":
    raise SystemExit(main())
