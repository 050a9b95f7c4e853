"""Severity triage (P1 / P2 / P3) from the customer's words and ticket fields.

The policy lives in YAML (``rules/data/triage.yaml`` holds the shipped
defaults and documents every key). Phrase families in English and Indonesian
add their weight when they match the cleaned subject or body; negations cancel
a match and hedges soften it; the ticket type, the requester's priority and the
tier add their own weights. The sum against two thresholds gives the level,
and every weight that counted becomes a short reason for the internal note.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from rules.model import SeverityDecision
from rules.text import clean_text

LEVELS = ("P1", "P2", "P3")
_CLAUSE_BREAK = re.compile(
    r"[.;:!?\n,()\[\]]|\b(?:but|tapi|tetapi|namun|because|karena|soalnya)\b"
)
# A negator before these words denies nothing that follows: "not sure why
# prod is down", "no idea why", "tidak tahu kenapa data hilang", "tidak bisa
# login, sistem down" (that is itself a problem).
_NOT_A_DENIAL = frozenset(
    "sure idea know knowing clue tahu tau ngerti paham bisa dapat able".split()
)
_WINDOW_WORD = re.compile(r"[\w'-]+")
# A phrase needs something besides wildcards: "*" alone would match every word.
_HAS_WORD = re.compile(r"[^\s*]")
# The longest word part a ``*`` stands for, and the longest quote in a reason.
WILDCARD_CHARS = 40
REASON_PHRASE_CHARS = 60
# No weight or threshold needs more; beyond it a number is a typo.
MAX_NUMBER = 1_000_000


@dataclass(frozen=True)
class PhraseFamily:
    """Phrases that mean one thing (``outage``, ``kecewa``...) and its weight."""

    name: str
    level: str
    weight: float
    phrases: tuple[str, ...]
    pattern: re.Pattern[str] = field(compare=False, repr=False)
    # A plain (not negated, not hedged) hit makes the ticket P1 whatever else
    # the text says: a question about an outage is still an outage.
    decisive: bool = False


@dataclass(frozen=True)
class FrustrationPolicy:
    """Thresholds and cue families for frustration scoring and escalation."""

    threshold: float
    sharp: float
    sustained: float
    sustained_messages: int
    caps_weight: float
    caps_min_letters: int
    caps_ratio: float
    exclaim_weight: float
    cues: tuple[PhraseFamily, ...]
    # Cue families that raise the score but never escalate alone.
    plain_cues: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TriagePolicy:
    """Everything severity and frustration triage decide with; immutable."""

    subject_weight: float
    body_weight: float
    hedge_factor: float
    negation_window: int
    max_reasons: int
    p1_threshold: float
    p3_threshold: float
    negations: frozenset[str]
    hedges: frozenset[str]
    families: tuple[PhraseFamily, ...]
    type_weights: tuple[tuple[str, float], ...]
    priority_weights: tuple[tuple[str, float], ...]
    tier_weights: tuple[tuple[str, float], ...]
    frustration: FrustrationPolicy
    # Words right after a phrase that make it a topic, not an event:
    # "outage notification page", "phishing simulation".
    topic_words: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PhraseHit:
    """One phrase found in a text, after negation and hedges were applied."""

    family: PhraseFamily
    phrase: str
    factor: float
    note: str = ""


# --- configuration -----------------------------------------------------------


@lru_cache(maxsize=1)
def _default_raw() -> dict[str, Any]:
    text = resources.files("rules").joinpath("data/triage.yaml").read_text("utf-8")

    return yaml.safe_load(text)


@lru_cache(maxsize=1)
def load_default_policy() -> TriagePolicy:
    """The shipped policy from ``rules/data/triage.yaml`` (read once)."""
    return _build_policy(_default_raw(), "triage")


def parse_triage_config(raw: dict | None, where: str = "triage") -> TriagePolicy:
    """Merge a user's ``triage:`` mapping over the defaults and validate it.

    Mappings merge key by key, lists replace lists, and a family set to
    ``null`` is removed. Raises ValueError naming the key path of a bad value.
    """
    if raw is None:
        return load_default_policy()

    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {type(raw).__name__}")

    merged = _merge(copy.deepcopy(_default_raw()), raw, where)

    return _build_policy(merged, where)


def _merge(base: dict, override: Mapping, where: str) -> dict:
    for key, value in override.items():
        path = f"{where}.{key}"
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            base[key] = _merge(base[key], value, path)
        elif value is None and where.endswith(("families", "cues")):
            base.pop(key, None)
        else:
            base[key] = copy.deepcopy(value)

    return base


def _build_policy(raw: Mapping, where: str) -> TriagePolicy:
    _check_keys(raw, where, _TOP_KEYS)
    thresholds = _mapping(raw, "thresholds", where)
    _check_keys(thresholds, f"{where}.thresholds", frozenset({"p1", "p3"}))
    p1 = _number(thresholds, "p1", f"{where}.thresholds")
    p3 = _number(thresholds, "p3", f"{where}.thresholds")
    if p3 >= p1:
        raise ValueError(f"{where}.thresholds.p3: must be below p1 ({p1})")

    fields = _mapping(raw, "fields", where)
    _check_keys(fields, f"{where}.fields", frozenset({"type", "priority", "tier"}))

    return TriagePolicy(
        subject_weight=_number(raw, "subject_weight", where, low=0.0),
        body_weight=_number(raw, "body_weight", where, low=0.0),
        hedge_factor=_number(raw, "hedge_factor", where, low=0.0, high=1.0),
        negation_window=_whole(raw, "negation_window", where, low=0, high=10),
        max_reasons=_whole(raw, "max_reasons", where, low=1, high=50),
        p1_threshold=p1,
        p3_threshold=p3,
        negations=_word_set(raw, "negations", where),
        hedges=_word_set(raw, "hedges", where),
        topic_words=_word_set(raw, "topic_words", where),
        families=_families(raw, "families", where, signed=True),
        type_weights=_weights(fields, "type", f"{where}.fields"),
        priority_weights=_weights(fields, "priority", f"{where}.fields"),
        tier_weights=_weights(fields, "tier", f"{where}.fields"),
        frustration=_frustration(_mapping(raw, "frustration", where), where),
    )


_TOP_KEYS = frozenset(
    "subject_weight body_weight hedge_factor negation_window max_reasons "
    "thresholds negations hedges topic_words families fields frustration".split()
)
_FRUSTRATION_KEYS = frozenset(
    "threshold sharp sustained sustained_messages caps_weight caps_min_letters "
    "caps_ratio exclaim_weight cues plain_cues".split()
)


def _frustration(raw: Mapping, where: str) -> FrustrationPolicy:
    path = f"{where}.frustration"
    _check_keys(raw, path, _FRUSTRATION_KEYS)
    cues = _families(raw, "cues", path, signed=False)
    plain = frozenset(_strings(raw.get("plain_cues") or [], f"{path}.plain_cues"))
    unknown = plain - {family.name for family in cues}
    if unknown:
        names = ", ".join(sorted(unknown))
        raise ValueError(
            f"{path}.plain_cues: no cue named {names} (a cue removed with null "
            "must also leave plain_cues: set the whole list)"
        )

    return FrustrationPolicy(
        threshold=_number(raw, "threshold", path, low=0.0, high=1.0),
        sharp=_number(raw, "sharp", path, low=0.0, high=1.0),
        sustained=_number(raw, "sustained", path, low=0.0, high=1.0),
        sustained_messages=_whole(raw, "sustained_messages", path, low=1, high=20),
        caps_weight=_number(raw, "caps_weight", path),
        caps_min_letters=_whole(raw, "caps_min_letters", path, low=1, high=10_000),
        caps_ratio=_number(raw, "caps_ratio", path, low=0.0, high=1.0),
        exclaim_weight=_number(raw, "exclaim_weight", path),
        cues=cues,
        plain_cues=plain,
    )


def _check_keys(raw: Mapping, where: str, allowed: frozenset[str]) -> None:
    for key in raw:
        if key not in allowed:
            raise ValueError(f"{where}.{key}: unknown key")


def _mapping(raw: Mapping, key: str, where: str) -> Mapping:
    value = raw.get(key)
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}.{key}: expected a mapping")

    return value


def _number(
    raw: Mapping,
    key: str,
    where: str,
    *,
    low: float | None = None,
    high: float | None = None,
) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}.{key}: expected a number, got {value!r}")

    if not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise ValueError(
            f"{where}.{key}: expected a finite number within +-{MAX_NUMBER:g}, "
            f"got {value!r}"
        )

    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{where}.{key}: {value!r} is outside [{low}, {high}]")

    return float(value)


def _whole(raw: Mapping, key: str, where: str, *, low: int, high: int) -> int:
    """A whole number in [low, high]: a window of 2.7 words is a typo."""
    value = _number(raw, key, where, low=low, high=high)
    if value != int(value):
        raise ValueError(f"{where}.{key}: expected a whole number, got {value!r}")

    return int(value)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: expected a list of strings")

    return tuple(v.strip().lower() for v in value if v.strip())


def _word_set(raw: Mapping, key: str, where: str) -> frozenset[str]:
    words: set[str] = set()
    for lang, values in _mapping(raw, key, where).items():
        words.update(_strings(values, f"{where}.{key}.{lang}"))

    return frozenset(words)


def _weights(raw: Mapping, key: str, where: str) -> tuple[tuple[str, float], ...]:
    table = raw.get(key) or {}
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}.{key}: expected a mapping")

    path = f"{where}.{key}"

    return tuple((str(name).lower(), _number(table, name, path)) for name in table)


def _families(
    raw: Mapping, key: str, where: str, *, signed: bool
) -> tuple[PhraseFamily, ...]:
    families = []
    for name, spec in _mapping(raw, key, where).items():
        path = f"{where}.{key}.{name}"
        if not isinstance(spec, Mapping):
            raise ValueError(f"{path}: expected a mapping")

        families.append(_family(str(name), spec, path, signed=signed))

    return tuple(families)


def _family(name: str, spec: Mapping, path: str, *, signed: bool) -> PhraseFamily:
    keys = {"level", "weight", "phrases"} | ({"decisive"} if signed else set())
    _check_keys(spec, path, frozenset(keys))
    level = spec.get("level", "P2" if signed else "")
    if signed and level not in LEVELS:
        raise ValueError(f"{path}.level: expected one of {', '.join(LEVELS)}")

    decisive = spec.get("decisive", False)
    if not isinstance(decisive, bool):
        raise ValueError(f"{path}.decisive: expected true or false")

    if decisive and level != "P1":
        raise ValueError(f"{path}.decisive: only a P1 family can decide alone")

    weight = _number(spec, "weight", path)
    if decisive and weight <= 0:
        raise ValueError(f"{path}.weight: a deciding family needs a weight above 0")

    phrases: list[str] = []
    for lang, values in _mapping(spec, "phrases", path).items():
        where = f"{path}.phrases.{lang}"
        for phrase in _strings(values, where):
            if not _HAS_WORD.search(phrase):
                raise ValueError(f"{where}: {phrase!r} is only a wildcard")

            phrases.append(phrase)

    if not phrases:
        raise ValueError(f"{path}.phrases: no phrases")

    return PhraseFamily(
        name, level, weight, tuple(phrases), compile_phrases(phrases), decisive
    )


def compile_phrases(phrases: list[str] | tuple[str, ...]) -> re.Pattern[str]:
    """One regex matching any of ``phrases`` as whole words, ``*`` as a wildcard."""
    # Alternatives grouped by their first letter: the regex engine then tries a
    # handful of phrases at each word instead of all of them.
    groups: dict[str, list[str]] = {}
    for phrase in sorted(set(phrases), key=len, reverse=True):
        body = r"\s+".join(_word_pattern(word) for word in phrase.split())
        if not phrase[0].isalnum() or not body.startswith(phrase[0]):
            groups.setdefault("", []).append(body)
        else:
            groups.setdefault(phrase[0], []).append(body[1:])

    parts = [
        "|".join(rests)
        if not first
        else re.escape(first) + "(?:" + "|".join(rests) + ")"
        for first, rests in groups.items()
    ]

    return re.compile(r"(?<![\w'-])(?:" + "|".join(parts) + r")(?![\w-])")


def _word_pattern(word: str) -> str:
    """``word``, ``word*`` (prefix) or ``*word*`` (anywhere inside a word)."""
    wildcard = r"[\w'-]{0," + str(WILDCARD_CHARS) + "}"
    head = wildcard if word.startswith("*") and len(word) > 1 else ""
    tail = wildcard if word.endswith("*") else ""

    return head + re.escape(word.strip("*")) + tail


# --- matching ------------------------------------------------------------------


def find_hits(
    text: str, families: tuple[PhraseFamily, ...], policy: TriagePolicy
) -> list[PhraseHit]:
    """The strongest hit of each family in a cleaned, lower-cased text."""
    hits = []
    for family in families:
        best: PhraseHit | None = None
        for match in family.pattern.finditer(text):
            hit = _qualify(text, match, family, policy)
            if best is None or hit.factor > best.factor:
                best = hit

            if best.factor >= 1.0:
                break

        if best is not None:
            hits.append(best)

    return hits


def _qualify(
    text: str, match: re.Match[str], family: PhraseFamily, policy: TriagePolicy
) -> PhraseHit:
    phrase = " ".join(match.group(0).split())
    before = text[max(0, match.start() - 80) : match.start()]
    clause = _CLAUSE_BREAK.split(before)[-1]
    found = _WINDOW_WORD.findall(clause)
    start = max(0, len(found) - policy.negation_window)
    words = found[start:]
    following = [*found[start + 1 :], phrase.split()[0]]
    if any(
        word in policy.negations and after not in _NOT_A_DENIAL
        for word, after in zip(words, following, strict=False)
    ):
        return PhraseHit(family, phrase, 0.0, "negated")

    if any(word in policy.hedges for word in words):
        return PhraseHit(family, phrase, policy.hedge_factor, "hedged")

    after = _WINDOW_WORD.match(text, match.end() + 1)
    if after and text[match.end() : match.end() + 1] == " ":
        if after.group(0) in policy.topic_words:
            return PhraseHit(family, phrase, policy.hedge_factor, "a topic")

    return PhraseHit(family, phrase, 1.0)


# --- decision ------------------------------------------------------------------


def classify_severity(
    subject: str,
    body: str,
    *,
    ticket_type: str | None = None,
    requester_priority: str | None = None,
    tier: str | None = None,
    policy: TriagePolicy | None = None,
) -> SeverityDecision:
    """P1 / P2 / P3 for a ticket, with the reasons that decided it."""
    policy = policy or load_default_policy()
    evidence, deciding = _text_evidence(subject, body, policy)
    evidence += _field_evidence(ticket_type, requester_priority, tier, policy)

    total = sum(weight for weight, _ in evidence)
    level = "P1" if deciding else _level(total, policy)
    ranked = sorted(evidence, key=lambda item: -abs(item[0]))
    reasons = [reason for _, reason in ranked][: policy.max_reasons - 1]
    if deciding:
        reasons.append(f"{' and '.join(deciding)} decides P1 (score {total:+.1f})")
    elif not evidence:
        reasons.append("no severity evidence: P2 until a person says otherwise")
    else:
        reasons.append(_summary(level, total, policy))

    return SeverityDecision(level=level, reasons=tuple(reasons))


def _text_evidence(
    subject: str, body: str, policy: TriagePolicy
) -> tuple[list[tuple[float, str]], list[str]]:
    """Each family's strongest hit as (weight, reason), and the deciding families."""
    found: dict[str, tuple[float, str]] = {}
    deciding: list[str] = []
    for where, text, scale in (
        ("subject", subject, policy.subject_weight),
        ("body", body, policy.body_weight),
    ):
        cleaned = clean_text(text).lower().replace("\u2019", "'")
        for hit in find_hits(cleaned, policy.families, policy):
            weight = hit.family.weight * scale * hit.factor
            if hit.family.decisive and not hit.note:
                if hit.family.name not in deciding:
                    deciding.append(hit.family.name)

            previous = found.get(hit.family.name)
            if previous is None or abs(weight) > abs(previous[0]):
                found[hit.family.name] = (weight, _hit_reason(where, hit, weight))

    return list(found.values()), deciding


def _hit_reason(where: str, hit: PhraseHit, weight: float) -> str:
    note = f", {hit.note}" if hit.note else ""
    phrase = hit.phrase
    if len(phrase) > REASON_PHRASE_CHARS:
        phrase = phrase[: REASON_PHRASE_CHARS - 3] + "..."

    return f'{where}: "{phrase}" ({hit.family.name}{note}, {weight:+.1f})'


def _field_evidence(
    ticket_type: str | None,
    priority: str | None,
    tier: str | None,
    policy: TriagePolicy,
) -> list[tuple[float, str]]:
    evidence = []
    for label, value, table in (
        ("type", ticket_type, policy.type_weights),
        ("priority", priority, policy.priority_weights),
        ("tier", tier, policy.tier_weights),
    ):
        key = (value or "").strip().lower()
        weight = dict(table).get(key, 0.0) if key else 0.0
        if weight:
            evidence.append((weight, f"{label} {key} ({weight:+g})"))

    return evidence


def _level(total: float, policy: TriagePolicy) -> str:
    if total >= policy.p1_threshold:
        return "P1"

    if total <= policy.p3_threshold:
        return "P3"

    return "P2"


def _summary(level: str, total: float, policy: TriagePolicy) -> str:
    if level == "P1":
        return f"score {total:+.1f} >= P1 threshold {policy.p1_threshold:+g}"

    if level == "P3":
        return f"score {total:+.1f} <= P3 threshold {policy.p3_threshold:+g}"

    return f"score {total:+.1f}: P2 (P1 at {policy.p1_threshold:+g})"
