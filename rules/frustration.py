"""Frustration of the customer, per message and across a ticket.

Each customer message gets a score in [0, 1]: a small logistic model per
language (English: VADER's compound score plus a learned word list;
Indonesian: a learned word and word-pair list) gives the log-odds, and the
cues that review-trained models miss (outage words, complaint words such as
"overcharged" or "kemahalan", "still waiting", "third time", threats to
cancel, escalate or sue, ALL CAPS, "!!!") add their YAML weights on top.
The shipped model file ``rules/data/frustration_model.tsv`` is built by
``scripts/build_lexicon.py`` from CC BY-SA 4.0 data (IndoNLU SmSA and
NusaX-senti); nothing is fetched at run time.

Sustained or sharp frustration escalates: severity goes up one step, at most
once per ticket, and P1 is never lowered.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from rules.language import detect_language
from rules.model import FrustrationResult, SeverityDecision
from rules.severity import TriagePolicy, find_hits, load_default_policy
from rules.text import clean_text, tokenize

MODEL_FILE = "data/frustration_model.tsv"
# VADER's cost grows with length; the start of a message carries its tone.
VADER_CHARS = 600
_EXCLAIM = re.compile(r"!{3,}|(?:[!?]\s*){3,}")
_LETTER = re.compile(r"[^\W\d_]")
_STEP_UP = {"P3": "P2", "P2": "P1", "P1": "P1"}


# Dense inputs of the model, named as in the model file: VADER's compound
# score (negated: higher is more negative) and its negative and positive shares.
DENSE = ("__vader__", "__vader_neg__", "__vader_pos__")
# VADER's shares are 1.0 for a one-word message ("error"); they are trusted in
# proportion to the words behind them, n / (n + SHARE_WORDS).
SHARE_WORDS = 10
# Words that deny what follows ("tidak kecewa", "not happy"). The model sees
# the next NEGATED_WORDS words as "not_" words of their own. Fixed here, not in
# the YAML, because the shipped model was trained with exactly this list.
NEGATORS = frozenset(
    "not no never without nothing isn't aren't wasn't weren't don't doesn't "
    "didn't hasn't haven't hadn't can't cannot couldn't won't wouldn't nor "
    "tidak tak bukan belum tanpa nggak gak ga enggak engga tdk blm bkn jangan".split()
)
NEGATED_WORDS = 3


@dataclass(frozen=True)
class LanguageModel:
    """Logistic model of one language: bias, VADER weights, feature weights."""

    bias: float
    vader: float
    weights: dict[str, float]
    vader_neg: float = 0.0
    vader_pos: float = 0.0

    def dense_logit(self, tone: tuple[float, float, float]) -> float:
        """Log-odds from VADER's (negated compound, negative, positive) scores."""
        negativity, negative, positive = tone

        return (
            self.vader * negativity
            + self.vader_neg * negative
            + (self.vader_pos * positive)
        )


@lru_cache(maxsize=1)
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def load_models() -> dict[str, LanguageModel]:
    """The shipped models by language, read once from the package data."""
    text = resources.files("rules").joinpath(MODEL_FILE).read_text("utf-8")

    return parse_models(text)


def parse_models(text: str) -> dict[str, LanguageModel]:
    """Parse ``lang<TAB>feature<TAB>weight`` lines (``#`` starts a comment)."""
    tables: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue

        lang, feature, weight = line.split("\t")
        tables.setdefault(lang, {})[feature] = float(weight)

    return {
        lang: LanguageModel(
            bias=table.pop("__bias__", 0.0),
            vader=table.pop("__vader__", 0.0),
            vader_neg=table.pop("__vader_neg__", 0.0),
            vader_pos=table.pop("__vader_pos__", 0.0),
            weights=table,
        )
        for lang, table in tables.items()
    }


def text_features(text: str) -> tuple[set[str], float]:
    """Words (``not_``-marked after a negator) and adjacent word pairs of a
    cleaned text, and their length scale."""
    tokens = tokenize(text)
    features = set()
    denied = 0
    for token in tokens:
        if token in NEGATORS:
            features.add(token)
            denied = NEGATED_WORDS
        elif denied:
            features.add("not_" + token)
            denied -= 1
        else:
            features.add(token)

    features.update(f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False))

    return features, 1.0 / math.sqrt(len(tokens) + 1)


def vader_tone(text: str) -> tuple[float, float, float]:
    """VADER on the start of a cleaned text: (-compound, negative, positive)."""
    head = text[:VADER_CHARS]
    scores = _vader().polarity_scores(head)
    words = len(tokenize(head))
    # The shares are scaled to about the compound score's range, and damped
    # for short messages.
    trust = 3.0 * words / (words + SHARE_WORDS)

    return -scores["compound"], trust * scores["neg"], trust * scores["pos"]


def model_logit(
    text: str, model: LanguageModel, tone: tuple[float, float, float]
) -> float:
    """The model's log-odds that a cleaned text is frustrated."""
    features, scale = text_features(text)
    total = sum(model.weights.get(feature, 0.0) for feature in features)

    return model.bias + total * scale + model.dense_logit(tone)


def cue_logit(text: str, policy: TriagePolicy) -> tuple[float, list[str]]:
    """Log-odds added by the YAML cues, with a reason for each cue found."""
    total, reasons, _ = _cues(text, policy)

    return total, reasons


def _cues(text: str, policy: TriagePolicy) -> tuple[float, list[str], bool]:
    """Cue log-odds, reasons, and whether a cue that may escalate was found.

    Problem words (the ``plain_cues`` families, "broken", "error") raise the
    score but are in almost every ticket, so they never escalate alone.
    """
    rules = policy.frustration
    total = 0.0
    reasons = []
    explicit = relief = False
    for hit in find_hits(text.lower(), rules.cues, policy):
        weight = hit.family.weight * hit.factor
        if weight:
            total += weight
            reasons.append(f'"{hit.phrase}" ({hit.family.name}, {weight:+.1f})')
            explicit |= weight > 0 and hit.family.name not in rules.plain_cues
            relief |= weight < 0

    # A message that also says "thanks, no rush" is not a sharp one.
    explicit &= not relief

    # Shouting and "!!!" add to the score, but like every cue they escalate
    # only when the message says nothing relieved: "All smooth!!!" is joy.
    if _is_shouting(text, rules.caps_min_letters, rules.caps_ratio):
        total += rules.caps_weight
        reasons.append(f"ALL CAPS ({rules.caps_weight:+.1f})")
        explicit |= rules.caps_weight > 0 and not relief

    if _EXCLAIM.search(text):
        total += rules.exclaim_weight
        reasons.append(f'repeated "!" or "?" ({rules.exclaim_weight:+.1f})')
        explicit |= rules.exclaim_weight > 0 and not relief

    return total, reasons, explicit


def _is_shouting(text: str, min_letters: int, ratio: float) -> bool:
    letters = _LETTER.findall(text[:VADER_CHARS])
    if len(letters) < min_letters:
        return False

    upper = sum(1 for letter in letters if letter.isupper())

    return upper >= ratio * len(letters)


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, value))))


def has_relief(text: str, policy: TriagePolicy | None = None) -> bool:
    """True when a message says something relieved ("thanks, it works now")."""
    policy = policy or load_default_policy()
    cleaned = clean_text(text).lower()

    return any(
        hit.family.weight * hit.factor < 0
        for hit in find_hits(cleaned, policy.frustration.cues, policy)
    )


def score_message(
    text: str, policy: TriagePolicy | None = None
) -> tuple[float, str, tuple[str, ...]]:
    """Frustration of one customer message: (score 0..1, language, reasons)."""
    score, language, reasons, _ = _score(text, policy or load_default_policy())

    return score, language, reasons


def _score(text: str, policy: TriagePolicy) -> tuple[float, str, tuple[str, ...], bool]:
    """score_message's answer and whether the message has an escalating cue."""
    cleaned = clean_text(text)
    language = detect_language(cleaned)
    if not cleaned:
        return 0.0, language, (), False

    models = load_models()
    model = models["id"] if language == "id" else models["en"]
    logit = model_logit(cleaned, model, vader_tone(cleaned))
    cues, reasons, explicit = _cues(cleaned, policy)
    score = _sigmoid(logit + cues)

    head = f"{language} model {_sigmoid(logit):.2f}"

    return round(score, 3), language, (head, *reasons), explicit


def score_frustration(
    messages: Sequence[str], policy: TriagePolicy | None = None
) -> FrustrationResult:
    """Frustration across a ticket's customer messages, oldest first."""
    if isinstance(messages, str | bytes):
        raise TypeError("messages must be a sequence of message texts, not one text")

    policy = policy or load_default_policy()
    scored = [_score(message, policy) for message in messages]
    if not scored:
        return FrustrationResult()

    scores = tuple(score for score, _, _, _ in scored)
    explicit = tuple(flag for _, _, _, flag in scored)
    reasons = _escalation_reasons(scores, explicit, policy)
    latest = scored[-1][2]
    top = tuple(f"latest message: {reason}" for reason in latest[:4])

    return FrustrationResult(
        score=scores[-1],
        trend=round(scores[-1] - scores[0], 3),
        scores=scores,
        languages=tuple(language for _, language, _, _ in scored),
        escalate=bool(reasons),
        reasons=(*reasons, *top),
    )


def _escalation_reasons(
    scores: tuple[float, ...], explicit: tuple[bool, ...], policy: TriagePolicy
) -> tuple[str, ...]:
    """Why the ticket escalates: a sharp latest message or a sustained run,
    each only with a cue beyond problem words in the message(s) concerned."""
    rules = policy.frustration
    if scores[-1] >= rules.sharp and explicit[-1]:
        return (f"sharp frustration: latest message {scores[-1]:.2f} >= {rules.sharp}",)

    count = rules.sustained_messages
    recent = scores[-count:]
    if (
        len(recent) == count
        and min(recent) >= rules.sustained
        and any(explicit[-count:])
    ):
        return (
            f"sustained frustration: last {len(recent)} messages "
            f">= {rules.sustained} ({', '.join(f'{s:.2f}' for s in recent)})",
        )

    return ()


def apply_frustration(
    severity: SeverityDecision,
    frustration: FrustrationResult,
    *,
    already_raised: bool = False,
) -> SeverityDecision:
    """Raise severity one step for escalated frustration, once per ticket.

    Nothing changes without escalation or when the ticket was raised before.
    A P1 stays P1 (it is never lowered and cannot go higher); its reasons
    still record the frustration so the note explains the senior routing.
    """
    if not frustration.escalate or already_raised or severity.raised_by_frustration:
        return severity

    why = frustration.reasons[0] if frustration.reasons else "frustration"
    if severity.level == "P1":
        return replace(severity, reasons=(*severity.reasons, f"{why} (already P1)"))

    level = _STEP_UP[severity.level]
    note = f"{why}: raised {severity.level} -> {level}"

    return SeverityDecision(
        level=level,
        reasons=(*severity.reasons, note),
        raised_by_frustration=True,
    )
