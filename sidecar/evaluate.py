"""``vip-sidecar eval``: measure severity and frustration triage on a CSV file.

Ticket files have the columns ``id, subject, body, priority_label, p_level,
language, source``; rows with an empty ``p_level`` are left out. Sentiment
files have ``id, text, label, frustration, language, source, split`` (and
``pair_id`` in a parallel file). Scores are given per language and for all
rows together, with the throughput of the run.

Files may be saved by Excel (a UTF-8 byte-order mark is dropped) but must be
UTF-8 and comma separated; column names are matched ignoring case and
surrounding spaces. Bad input (a missing file or column, an empty file, a
broken CSV such as a quote that is never closed) is refused with a ValueError
naming the file. Rows whose label is blank or not a valid label (P1/P2/P3;
0/1) are left out and counted in the report's ``skipped``; a file (or split)
where no row is left to score is refused with those counts.

Severity macro-F1 is the mean F1 of the classes the labels hold (support > 0),
listed in ``macro_f1_classes``: a class absent from the file has no recall to
measure, and counting its F1 of 0 would cap a perfect P1/P3 file at 0.667.

``--split NAME`` keeps the rows whose ``split`` column is NAME. A file without
that column can be cut into a seeded development part (``dev``, 70 %) and a
held-out part (``holdout``, 30 %) by a hash of the row id. A split that
selects no row is refused, with the splits the file has.

``--config FILE`` measures a deployment's own tuning: the ``triage:`` section
of that file (a full policy file or one with only that section) is merged
over the shipped defaults, as the running sidecar does, so a desk can score
its overrides on its own labelled tickets.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from rules.frustration import score_message
from rules.model import SEVERITIES
from rules.severity import (
    TriagePolicy,
    classify_severity,
    load_default_policy,
    parse_triage_config,
)

KINDS = ("severity", "frustration")
TICKET_TYPES = frozenset({"incident", "problem", "question", "task"})
HOLDOUT_PERCENT = 30
FRUSTRATION_LABELS = ("0", "1")
SPLITS_LISTED = 10

# Ticket bodies can hold whole mail threads or logs, over csv's 128 KiB default
# cap per field; the limit is process-wide, the same one sidecar.demo sets.
csv.field_size_limit(16 * 1024 * 1024)


def add_eval_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``eval {severity,frustration} FILE`` and its options."""
    parser = subparsers.add_parser("eval", help="measure triage on a labelled CSV")
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("path", type=Path, help="CSV file in the shared layout")
    parser.add_argument("--json", action="store_true", dest="as_json")
    parser.add_argument(
        "--split", help="keep rows of this split (dev/holdout: seeded cut by id)"
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="policy file whose triage: section overrides the shipped defaults",
    )
    parser.set_defaults(func=handle_eval)

    return parser


def handle_eval(args: argparse.Namespace) -> int:
    """The ``eval`` handler: print the report, 0 on success, 2 on bad input."""
    try:
        run_eval(
            args.kind,
            args.path,
            as_json=args.as_json,
            split=args.split,
            config=args.config,
        )
    except (OSError, ValueError) as error:
        # stderr, so that the stdout of --json stays JSON (or empty).
        print(f"eval: {error}", file=sys.stderr)
        return 2

    return 0


def run_eval(
    kind: str,
    path: str | Path,
    *,
    as_json: bool,
    split: str | None = None,
    config: str | Path | None = None,
) -> dict[str, Any]:
    """Score ``path``, print the report (text or JSON) and return it."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use {' or '.join(KINDS)}")

    policy = triage_policy(config)
    rows = read_csv(Path(path))
    check_columns(kind, rows, path)
    rows = select_split(rows, split, path)
    started = time.perf_counter()
    report = (
        evaluate_severity(rows, policy)
        if kind == "severity"
        else evaluate_frustration(rows, policy)
    )
    elapsed = time.perf_counter() - started
    check_scored(kind, report, path, split)

    report.update(kind=kind, file=Path(path).name, split=split)
    report["policy"] = f"triage from {Path(config).name}" if config else "shipped"
    report["throughput"] = _throughput(report["n"], elapsed)
    print(json.dumps(report, indent=2) if as_json else format_report(report))

    return report


def triage_policy(config: str | Path | None) -> TriagePolicy:
    """The shipped triage policy, or it with a policy file's ``triage:`` merged in.

    A file without a ``triage:`` section (a typo, an empty file), or with an
    empty one (``triage:`` or ``triage: {}``), is refused: scoring it would
    silently measure the shipped defaults under its name.
    """
    if config is None:
        return load_default_policy()

    try:
        raw = yaml.safe_load(_read_text(Path(config))) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{config}: not valid YAML: {error}") from error

    if not isinstance(raw, dict):
        raise ValueError(f"{config}: must be a mapping of sections")

    if "triage" not in raw:
        raise ValueError(
            f"{config}: has no triage: section "
            f"(sections: {', '.join(map(str, raw)) or 'none'}); "
            "without --config the shipped defaults are used"
        )

    if raw["triage"] is None or raw["triage"] == {}:
        raise ValueError(
            f"{config}: the triage: section is empty; "
            "without --config the shipped defaults are used"
        )

    try:
        return parse_triage_config(raw["triage"])
    except ValueError as error:
        raise ValueError(f"{config}: {error}") from error


def _read_text(path: Path) -> str:
    """The file as text: UTF-8, with or without the byte-order mark Excel writes.

    Raises ValueError naming the file and line of the first byte that is not
    UTF-8, rather than Python's bare codec message, and in plain words for a
    file that is missing or is a directory (not ``[Errno 2] ...``).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError as error:
        raise ValueError(f"{path}: no such file") from error
    except IsADirectoryError as error:
        raise ValueError(f"{path}: is a directory, not a file") from error

    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(
            f"{path}: not UTF-8 text (byte 0x{data[error.start]:02x} on line "
            f"{line}); save it as UTF-8"
        ) from error


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header; ValueError for a broken or empty file.

    The header's names are normalised by ``column_names``. The file is read
    in csv's strict mode, which refuses a quote still open at the end of the
    file and a closing quote followed by anything but a comma or a line end.
    Without it, one stray quote (``2,"Typo in footer,x,P3,en``) makes every
    later line part of a single field: the run scores one row and succeeds.
    Strict mode has no false alarms (it refuses only quotes that break the
    CSV rules) but one blind spot: a stray opening quote that a later stray
    quote closes right before a comma or line end reads as a valid field
    spanning lines, which csv cannot tell from a multi-line ticket body.
    """
    text = _read_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""), restval="", strict=True)
    try:
        reader.fieldnames = column_names(reader.fieldnames or [], path)
        rows = list(reader)
    except csv.Error as error:
        # DictReader.line_num lags on an error; its inner reader's does not.
        raise csv_problem(path, text, reader.reader.line_num, error) from error

    if not rows:
        raise ValueError(f"{path}: no rows (the file is empty or only a header)")

    return rows


def column_names(names: list[str], path: str | Path) -> list[str]:
    """The header's names stripped and lower-cased, so ``P_Level`` is p_level.

    A header that is one column holding ';' or a tab is refused as a file
    saved with another separator (every check would otherwise report the
    columns missing). Names that become equal (``Text`` and ``text``) are
    refused too, as only one of them could be read.
    """
    if len(names) == 1:
        for mark, separator in ((";", "semicolon"), ("\t", "tab")):
            if mark in names[0]:
                raise ValueError(
                    f"{path}: the header is one column ({names[0]!r}), so the "
                    f"file looks {separator} separated; save it comma separated"
                )

    columns = [name.strip().lower() for name in names]
    repeated = sorted({c for c in columns if c and columns.count(c) > 1})
    if repeated:
        raise ValueError(
            f"{path}: column(s) {', '.join(repeated)} appear more than once "
            "(names are matched ignoring case and surrounding spaces)"
        )

    return columns


def csv_problem(path: Path, text: str, line: int, error: csv.Error) -> ValueError:
    """The error for a CSV that csv could not read, at the quote that broke it.

    csv reports where it stopped: for an unclosed quote that is the end of the
    file, many lines past the row to fix. When ``bad_quote`` finds a quoted
    field that opened on or before that line and is broken, the message names
    the line where its quote opened instead.
    """
    quote = bad_quote(text)
    if quote is None or quote[0] > line:
        return ValueError(f"{path}: line {line}: {error}")

    opened, closed = quote
    if closed is None:
        return ValueError(
            f"{path}: line {opened}: a quote opens a field here and is never "
            "closed (the rest of the file would be read as that one field)"
        )

    where = "on the same line" if closed == opened else f"on line {closed}"

    return ValueError(
        f"{path}: line {opened}: a quote opens a field here and closes {where} "
        'with text after it (a quote inside a quoted field is written "")'
    )


def bad_quote(text: str) -> tuple[int, int | None] | None:
    """Where the first broken quoted field is, read as csv's strict mode reads.

    A quote opens a field only at its start (the start of a line or after a
    comma); inside, ``""`` is a quote and a single quote closes the field,
    which must then end (comma, line end or end of file). Returns the line
    the quote opened on and the line it closed on, None for one never closed;
    None if every quoted field is well formed. It jumps from field to field,
    as it runs on files of many megabytes.
    """
    position = 0
    while position < len(text):
        if text[position] != '"':
            end = _FIELD_END.search(text, position)
            if end is None:
                return None
            position = end.end()
            continue

        closing = _closing_quote(text, position + 1)
        if closing is None:
            return _line_at(text, position), None

        after = text[closing + 1 : closing + 2]
        if after not in ("", ",", "\r", "\n"):
            return _line_at(text, position), _line_at(text, closing)
        position = closing + 2

    return None


_FIELD_END = re.compile(r"[,\r\n]")


def _closing_quote(text: str, start: int) -> int | None:
    """The index of the quote that closes a field opened before ``start``."""
    while (found := text.find('"', start)) >= 0:
        if text[found + 1 : found + 2] != '"':
            return found
        start = found + 2

    return None


def _line_at(text: str, index: int) -> int:
    """The line number of ``text[index]``, counting line ends as csv does.

    csv splits lines at LF, CRLF and CR, so a CRLF counts once.
    """
    ends = text.count("\n", 0, index) + text.count("\r", 0, index)

    return ends - text.count("\r\n", 0, index) + 1


def check_columns(kind: str, rows: list[dict[str, str]], path: str | Path) -> None:
    """Refuse a file that lacks the columns ``kind`` reads, naming them.

    This is also what stops a frustration file given to ``eval severity`` (or
    the reverse) from being scored as if every row were unlabelled.
    """
    columns = set(rows[0])
    if kind == "severity":
        missing = [] if "p_level" in columns else ["p_level"]
        if not columns & {"subject", "body"}:
            missing.append("subject or body")
        needs = "p_level and subject and/or body"
    else:
        missing = [name for name in ("text", "frustration") if name not in columns]
        needs = "text and frustration"

    if missing:
        raise ValueError(
            f"{path}: missing column(s) {', '.join(missing)}; "
            f"a {kind} file needs {needs}"
        )


def check_scored(
    kind: str, report: dict[str, Any], path: str | Path, split: str | None
) -> None:
    """Refuse a run that scored no row because every label was blank or invalid.

    A report with n=0 and every score at zero would read as a measurement.
    """
    if report["n"]:
        return

    column, labels = (
        ("p_level", "P1, P2 or P3") if kind == "severity" else ("frustration", "0 or 1")
    )
    skipped = report["skipped"]
    where = f" in split {split!r}" if split is not None else ""
    raise ValueError(
        f"{path}: no row to score{where}: {skipped['blank']} blank and "
        f"{skipped['invalid']} invalid {column} label(s) (valid: {labels})"
    )


def select_rows(rows: list[dict[str, str]], split: str | None) -> list[dict[str, str]]:
    """Rows of one split; ``dev``/``holdout`` cut files that have no split."""
    if split is None:
        return rows

    if rows and "split" not in rows[0] and split in ("dev", "holdout"):
        return [
            row for row in rows if is_holdout(row.get("id", "")) == (split == "holdout")
        ]

    return [row for row in rows if row.get("split") == split]


def select_split(
    rows: list[dict[str, str]], split: str | None, path: str | Path
) -> list[dict[str, str]]:
    """``select_rows``, refusing an empty split name or a split with no row.

    A mistyped split would otherwise report n=0 with every score at zero.
    """
    if split is not None and not split.strip():
        raise ValueError("--split needs a name (e.g. valid, dev or holdout)")

    selected = select_rows(rows, split)
    if selected or split is None:
        return selected

    if "split" in rows[0]:
        raise ValueError(
            f"{path}: no rows with split {split!r}; "
            f"splits in the file: {_split_names(rows)}"
        )

    if split in ("dev", "holdout"):
        raise ValueError(f"{path}: the seeded {split} cut of this file has no rows")

    raise ValueError(
        f"{path}: has no split column, so no split {split!r}; "
        "use --split dev or --split holdout for the seeded cut"
    )


def _split_names(rows: list[dict[str, str]]) -> str:
    """The distinct ``split`` values, sorted, blank shown, long lists cut short."""
    names = sorted({row.get("split") or "(blank)" for row in rows})
    shown = ", ".join(names[:SPLITS_LISTED])

    return shown if len(names) <= SPLITS_LISTED else f"{shown}, ..."


def is_holdout(row_id: str) -> bool:
    """True for the seeded held-out part (30 %) of a file without splits."""
    digest = hashlib.sha256(row_id.encode("utf-8")).hexdigest()

    return int(digest, 16) % 100 < HOLDOUT_PERCENT


def _throughput(n: int, elapsed: float) -> dict[str, float]:
    return {
        "seconds": round(elapsed, 3),
        "per_second": round(n / elapsed, 1) if elapsed > 0 else 0.0,
        "ms_per_item": round(1000 * elapsed / n, 3) if n else 0.0,
    }


# --- severity -------------------------------------------------------------------


def evaluate_severity(
    rows: Iterable[dict[str, str]], policy: TriagePolicy | None = None
) -> dict[str, Any]:
    """Per-language and overall class scores and confusion matrices."""
    policy = policy or load_default_policy()
    pairs: dict[str, list[tuple[str, str]]] = {}
    skipped: Counter[str] = Counter()
    for row in rows:
        truth = check_label((row.get("p_level") or "").upper(), SEVERITIES, skipped)
        if truth is None:
            continue

        decision = classify_severity(
            row.get("subject", ""),
            row.get("body", ""),
            ticket_type=_ticket_type(row),
            requester_priority=row.get("priority") or None,
            policy=policy,
        )
        language = row.get("language") or "unknown"
        pairs.setdefault(language, []).append((truth, decision.level))

    everything = [pair for group in pairs.values() for pair in group]
    report = {"n": len(everything), "all": severity_scores(everything)}
    report["languages"] = {
        lang: severity_scores(p) for lang, p in sorted(pairs.items())
    }
    report["skipped"] = _skipped(skipped)

    return report


def check_label(
    value: str | None, allowed: Iterable[str], skipped: Counter[str]
) -> str | None:
    """The stripped label if it is one of ``allowed``, else None.

    A row left out is counted in ``skipped`` as ``blank`` (no label yet) or
    ``invalid`` (a label of another scheme, such as "High" or "yes"), so the
    report shows how much of the file was not scored and why.
    """
    label = (value or "").strip()
    if label in allowed:
        return label

    skipped["invalid" if label else "blank"] += 1

    return None


def _skipped(skipped: Counter[str]) -> dict[str, int]:
    return {"blank": skipped["blank"], "invalid": skipped["invalid"]}


def _ticket_type(row: dict[str, str]) -> str | None:
    value = (row.get("ticket_type") or row.get("type") or "").strip().lower()

    return value if value in TICKET_TYPES else None


def severity_scores(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Precision, recall, F1 per class, macro-F1 and the confusion matrix.

    Every class gets its row, but macro-F1 averages only the classes present
    in the labels (``macro_f1_classes``): an absent class has F1 0 whatever
    the rules do, which would pull a perfect score on the others down.
    """
    confusion = Counter(pairs)
    classes = {}
    for level in SEVERITIES:
        tp = confusion[(level, level)]
        predicted = sum(confusion[(truth, level)] for truth in SEVERITIES)
        actual = sum(confusion[(level, guess)] for guess in SEVERITIES)
        classes[level] = prf(tp, predicted, actual) | {"support": actual}

    present = [level for level, c in classes.items() if c["support"]]
    macro = sum(classes[level]["f1"] for level in present) / len(present or [1])

    return {
        "n": len(pairs),
        "classes": classes,
        "macro_f1": round(macro, 3),
        "macro_f1_classes": present,
        "confusion": {
            truth: {guess: confusion[(truth, guess)] for guess in SEVERITIES}
            for truth in SEVERITIES
        },
    }


def prf(tp: int, predicted: int, actual: int) -> dict[str, float]:
    precision = tp / predicted if predicted else 0.0
    recall = tp / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    return {
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
    }


# --- frustration ----------------------------------------------------------------


def evaluate_frustration(
    rows: Iterable[dict[str, str]], policy: TriagePolicy | None = None
) -> dict[str, Any]:
    """Precision, recall and F1 at the policy's threshold, per language."""
    policy = policy or load_default_policy()
    threshold = policy.frustration.threshold
    outcomes: dict[str, list[tuple[int, int]]] = {}
    by_pair: dict[str, dict[str, tuple[int, int]]] = {}
    skipped: Counter[str] = Counter()
    for row in rows:
        truth = check_label(row.get("frustration"), FRUSTRATION_LABELS, skipped)
        if truth is None:
            continue

        score, _, _ = score_message(row.get("text") or "", policy)
        outcome = (int(truth), int(score >= threshold))
        language = row.get("language") or "unknown"
        outcomes.setdefault(language, []).append(outcome)
        if row.get("pair_id"):
            by_pair.setdefault(row["pair_id"], {})[language] = outcome

    everything = [o for group in outcomes.values() for o in group]
    report: dict[str, Any] = {"n": len(everything), "threshold": threshold}
    report["all"] = binary_scores(everything)
    report["languages"] = {
        lang: binary_scores(o) for lang, o in sorted(outcomes.items())
    }
    if by_pair:
        report["parallel"] = parallel_gap(by_pair)
    report["skipped"] = _skipped(skipped)

    return report


def binary_scores(outcomes: list[tuple[int, int]]) -> dict[str, Any]:
    counts = Counter(outcomes)
    tp = counts[(1, 1)]
    scores = prf(tp, tp + counts[(0, 1)], tp + counts[(1, 0)])

    return {"n": len(outcomes), "positives": tp + counts[(1, 0)], **scores}


def parallel_gap(by_pair: dict[str, dict[str, tuple[int, int]]]) -> dict[str, Any]:
    """F1 of English and Indonesian on the pairs present in both, and the gap."""
    pairs = [langs for langs in by_pair.values() if {"en", "id"} <= set(langs)]
    english = binary_scores([langs["en"] for langs in pairs])
    indonesian = binary_scores([langs["id"] for langs in pairs])

    return {
        "pairs": len(pairs),
        "en_f1": english["f1"],
        "id_f1": indonesian["f1"],
        "gap": round(abs(english["f1"] - indonesian["f1"]), 3),
    }


# --- text report ----------------------------------------------------------------


def format_report(report: dict[str, Any]) -> str:
    """The report as aligned plain text."""
    lines = [
        f"{report['kind']} on {report['file']} (split: {report['split'] or 'all'}; "
        f"policy: {report.get('policy', 'shipped')})"
    ]
    sections = [("all", report["all"]), *report["languages"].items()]
    for name, scores in sections:
        if report["kind"] == "severity":
            lines.extend(_severity_lines(name, scores))
        else:
            lines.append(_binary_line(name, scores))

    if "parallel" in report:
        gap = report["parallel"]
        lines.append(
            f"parallel pairs={gap['pairs']} en F1={gap['en_f1']:.3f} "
            f"id F1={gap['id_f1']:.3f} gap={gap['gap']:.3f}"
        )

    skipped = report.get("skipped") or {}
    if any(skipped.values()):
        lines.append(
            f"skipped: {skipped['blank']} blank and {skipped['invalid']} "
            "invalid label(s), not scored"
        )

    speed = report["throughput"]
    lines.append(
        f"throughput: {speed['per_second']:.0f}/s ({speed['ms_per_item']} ms each)"
    )

    return "\n".join(lines)


def _severity_lines(name: str, scores: dict[str, Any]) -> list[str]:
    """A severity section; macro-F1 names its classes when some are absent."""
    over = scores["macro_f1_classes"]
    only = f" (over {', '.join(over)} only)" if len(over) < len(SEVERITIES) else ""
    lines = [f"[{name}] n={scores['n']} macro-F1={scores['macro_f1']:.3f}{only}"]
    for level, c in scores["classes"].items():
        lines.append(
            f"  {level}  P={c['precision']:.3f} R={c['recall']:.3f} "
            f"F1={c['f1']:.3f} support={c['support']}"
        )

    lines.append("  confusion (rows: true, columns: predicted P1 P2 P3)")
    for truth, row in scores["confusion"].items():
        lines.append(f"  {truth}  " + " ".join(f"{row[g]:>6}" for g in SEVERITIES))

    return lines


def _binary_line(name: str, scores: dict[str, Any]) -> str:
    return (
        f"[{name}] n={scores['n']} positives={scores['positives']} "
        f"P={scores['precision']:.3f} R={scores['recall']:.3f} F1={scores['f1']:.3f}"
    )
