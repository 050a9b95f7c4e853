"""Frustration per message and per ticket, and the one-step escalation."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

from rules.frustration import (
    apply_frustration,
    load_models,
    parse_models,
    score_frustration,
    score_message,
)
from rules.model import FrustrationResult, SeverityDecision
from rules.severity import load_default_policy, parse_triage_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from build_lexicon import (  # noqa: E402
    NearCopies,
    best_shift,
    f1_at,
    shingles,
    training_texts,
)

THRESHOLD = load_default_policy().frustration.threshold

CALM = [
    ("en-thanks", "Thanks, everything works now. Great job!", "en"),
    ("en-info", "Could you send the schedule for next month's maintenance?", "en"),
    ("id-thanks", "Terima kasih, sudah normal kembali. Mantap!", "id"),
    ("id-info", "Mohon info jadwal maintenance bulan depan.", "id"),
    ("mixed-thanks", "Thanks ya, sekarang sudah bisa login lagi.", "id"),
]

ANGRY = [
    (
        "en-still-waiting",
        "Still waiting for an answer. This is the third time I ask!!!",
        "en",
    ),
    ("en-caps", "WHY IS THE SYSTEM STILL DOWN? NOBODY ANSWERED MY EMAIL.", "en"),
    ("en-cancel", "If this is not fixed today we will cancel our contract.", "en"),
    ("en-legal", "Our lawyers are preparing legal action over this outage.", "en"),
    ("en-manager", "Unacceptable. Escalate this to your manager right now.", "en"),
    ("id-kecewa", "Sudah berkali-kali saya laporkan, sangat kecewa. Parah!", "id"),
    ("id-putus-kontrak", "Kalau tidak beres hari ini, kami mau putus kontrak.", "id"),
    ("id-somasi", "Kami akan kirim somasi karena layanan terus mati.", "id"),
    (
        "id-menunggu",
        "Sudah tiga hari masih menunggu, belum ada tanggapan sama sekali.",
        "id",
    ),
    ("mixed", "Server down lagi, kecewa banget, nobody answered my email", "id"),
]


@pytest.mark.parametrize(
    ("text", "language"), [row[1:] for row in CALM], ids=[row[0] for row in CALM]
)
def test_calm_messages_score_low(text, language):
    score, detected, _ = score_message(text)

    assert score < THRESHOLD
    assert detected == language


@pytest.mark.parametrize(
    ("text", "language"), [row[1:] for row in ANGRY], ids=[row[0] for row in ANGRY]
)
def test_frustrated_messages_score_high_with_reasons(text, language):
    score, detected, reasons = score_message(text)

    assert score >= THRESHOLD
    assert detected == language
    assert len(reasons) >= 2


@pytest.mark.parametrize(
    ("plain", "loud"),
    [
        ("the export is still not fixed", "THE EXPORT IS STILL NOT FIXED"),
        ("the export is still not fixed.", "the export is still not fixed!!!"),
    ],
    ids=["caps", "exclaim"],
)
def test_shouting_adds_to_the_score(plain, loud):
    assert score_message(loud)[0] > score_message(plain)[0]


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\x00\x01\x02\x03" * 500, "<p></p>"],
    ids=["empty", "blank", "binary", "empty-html"],
)
def test_empty_or_binary_message_scores_zero(text):
    score, _, reasons = score_message(text)

    assert score == 0.0
    assert reasons == ()


def test_huge_message_is_bounded_and_scored():
    text = "This is unacceptable, still waiting. " + "word " * 250_000

    score, language, _ = score_message(text)

    assert len(text) > 1_000_000
    assert 0.0 <= score <= 1.0
    assert language == "en"


def test_quoted_reply_does_not_count():
    text = "Thanks, all good now.\n\nOn Mon, Jane wrote:\n> THIS IS UNACCEPTABLE!!!"

    assert score_message(text)[0] < THRESHOLD


def test_sharp_frustration_escalates():
    result = score_frustration(
        ["Hello, a question about invoices.", "UNACCEPTABLE!!! We will sue you."]
    )

    assert result.escalate
    assert result.trend > 0
    assert result.reasons[0].startswith("sharp frustration")
    assert result.languages == ("en", "en")


def test_sustained_frustration_escalates():
    policy = parse_triage_config({"frustration": {"sharp": 1.0, "sustained": 0.6}})
    messages = [
        "Still waiting, this is the third time.",
        "Sudah berkali-kali, sangat kecewa.",
    ]

    result = score_frustration(messages, policy)

    assert result.escalate
    assert result.reasons[0].startswith("sustained frustration: last 2 messages")


def test_calm_ticket_does_not_escalate():
    result = score_frustration(["Hi, how do I export a report?", "Thanks, found it."])

    assert not result.escalate
    assert result.score < THRESHOLD
    assert len(result.scores) == 2


def test_no_messages_gives_an_empty_result():
    assert score_frustration([]) == FrustrationResult()


ESCALATED = FrustrationResult(
    score=0.95, scores=(0.95,), escalate=True, reasons=("sharp",)
)


@pytest.mark.parametrize(
    ("level", "raised", "expected", "flag"),
    [
        ("P3", False, "P2", True),
        ("P2", False, "P1", True),
        ("P1", False, "P1", False),
        ("P3", True, "P3", False),
    ],
    ids=["p3-up", "p2-up", "p1-stays", "already-raised"],
)
def test_apply_frustration(level, raised, expected, flag):
    severity = SeverityDecision(level=level, reasons=("score",))

    result = apply_frustration(severity, ESCALATED, already_raised=raised)

    assert result.level == expected
    assert result.raised_by_frustration is flag


def test_apply_frustration_explains_the_raise():
    result = apply_frustration(SeverityDecision("P3", ("score",)), ESCALATED)

    assert result.reasons == ("score", "sharp: raised P3 -> P2")


def test_apply_frustration_raises_once():
    once = apply_frustration(SeverityDecision("P3"), ESCALATED)

    assert apply_frustration(once, ESCALATED) == once


def test_no_escalation_changes_nothing():
    severity = SeverityDecision("P2", ("score",))

    assert apply_frustration(severity, FrustrationResult(score=0.4)) is severity


def test_shipped_models_cover_both_languages():
    models = load_models()

    assert set(models) == {"en", "id"}
    assert models["en"].vader > 0
    assert models["id"].weights["kecewa"] > 0


def test_parse_models_reads_bias_and_weights():
    models = parse_models(
        "# comment\nen\t__bias__\t-0.5\nen\t__vader__\t2\nen\tbad\t1.5\n"
    )

    assert models["en"].bias == -0.5
    assert models["en"].vader == 2.0
    assert models["en"].weights == {"bad": 1.5}


def test_parse_models_reads_the_vader_share_weights():
    models = parse_models(
        "en\t__bias__\t0\nen\t__vader__\t1\nen\t__vader_neg__\t2\n"
        "en\t__vader_pos__\t-1\n"
    )

    model = models["en"]
    assert (model.vader_neg, model.vader_pos) == (2.0, -1.0)
    assert model.weights == {}
    assert model.dense_logit((0.5, 0.3, 0.6)) == pytest.approx(0.5 + 0.6 - 0.6)


def test_shipped_english_model_reads_negative_share_as_frustration():
    model = load_models()["en"]

    assert model.dense_logit((0.0, 1.0, 0.0)) > model.dense_logit((0.0, 0.0, 1.0))


# --- the model build keeps valid splits unseen, near copies too ---------------


@pytest.mark.parametrize(
    ("held", "text", "near"),
    [
        (
            "Tempatnya saja sih bentuknya restoran",
            "tempat nya saja sih bentuk nya",
            True,
        ),
        ("Layanan sangat lambat dan kecewa.", "layanan sangat lambat dan kecewa", True),
        (
            "Layanan sangat lambat dan kecewa.",
            "Makanannya enak dan murah sekali",
            False,
        ),
        ("short", "", False),
    ],
    ids=["split-suffix", "case-and-punctuation", "different", "empty"],
)
def test_near_copies_are_found_by_shared_five_grams(held, text, near):
    assert (text in NearCopies([held])) is near


def test_shingles_ignore_case_spaces_and_punctuation():
    assert shingles("Data hilang!") == shingles("datahilang")


def _sentiment_csv(path: Path, rows: list[tuple[str, str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "frustration", "language", "split"])
        for number, (text, label, split) in enumerate(rows):
            writer.writerow([f"r{number}", text, label, "id", split])


def test_training_texts_leave_out_near_copies_of_valid_rows(tmp_path):
    _sentiment_csv(
        tmp_path / "indonlu_smsa_sentiment_id.csv",
        [
            ("pelayanan nya sangat buruk sekali", "1", "train"),
            ("makanannya enak", "0", "train"),
        ],
    )
    _sentiment_csv(
        tmp_path / "nusax_senti_en_id_parallel.csv",
        [
            ("Pelayanannya sangat buruk sekali.", "1", "valid"),
            ("Tempatnya nyaman", "0", "train"),
        ],
    )

    texts = training_texts(tmp_path, "id")

    assert texts == [("makanannya enak", 0), ("Tempatnya nyaman", 0)]


COMPLAINTS = [
    ("en-dirty", "The meeting room was filthy and the coffee was stale.", "filthy"),
    (
        "en-price",
        "Overcharged again on the invoice, hidden fees everywhere.",
        "overcharged",
    ),
    ("en-scam", "This upgrade offer is a scam.", "scam"),
    ("en-never", "Took forever to get a reply. Never again.", "took forever"),
    ("id-kotor", "Ruangannya kotor dan bau, sangat tidak nyaman.", "kotor"),
    ("id-mahal", "Harganya kemahalan untuk layanan yang biasa saja.", "kemahalan"),
    (
        "id-pulsa",
        "Pulsa terpotong terus padahal tidak pakai apa-apa.",
        "pulsa terpotong",
    ),
    ("id-tipu", "Saya merasa ditipu dengan biaya tambahan ini.", "ditipu"),
]


@pytest.mark.parametrize(
    ("text", "phrase"),
    [row[1:] for row in COMPLAINTS],
    ids=[row[0] for row in COMPLAINTS],
)
def test_complaint_words_are_a_cue_with_a_reason(text, phrase):
    _, _, reasons = score_message(text)

    assert any(f'"{phrase}" (complaint' in reason for reason in reasons)


@pytest.mark.parametrize(
    "text",
    [
        "The room was not dirty at all, thanks.",
        "Harganya tidak mahal, pelayanannya bagus.",
    ],
    ids=["en-negated", "id-negated"],
)
def test_negated_complaint_words_add_nothing(text):
    _, _, reasons = score_message(text)

    assert not any("complaint" in reason for reason in reasons)


def test_f1_at_counts_scores_moved_by_the_shift():
    # log-odds, label: threshold 0.5 cuts at 0.
    scored = [(-0.4, 1), (-0.2, 1), (0.5, 1), (0.1, 0), (-2.0, 0)]

    assert f1_at(scored, 0.0, 0.5) == pytest.approx(2 * 1 / (2 + 3))
    assert f1_at(scored, 0.5, 0.5) == pytest.approx(2 * 3 / (4 + 3))
    assert f1_at([], 0.0, 0.5) == 0.0


def test_best_shift_prefers_the_best_f1_then_the_smallest_move():
    scored = [(-0.4, 1), (-0.2, 1), (0.5, 1), (0.1, 0), (-2.0, 0)]

    shift, f1 = best_shift(scored, 0.5)

    assert shift == pytest.approx(0.4)
    assert f1 == pytest.approx(6 / 7)
    # Separable at zero: no move at all.
    assert best_shift([(1.0, 1), (-1.0, 0)], 0.5) == (0.0, 1.0)


@pytest.mark.parametrize(
    "messages",
    [
        ["broken"],
        ["error", "error"],
        [
            "My laptop screen is broken, it fell off the desk. "
            "Could you arrange a replacement? Regards"
        ],
        ["Layar laptop saya rusak, tidak bisa dipakai. Mohon dibantu penggantian."],
    ],
    ids=["one-word", "two-words", "calm-report", "id-calm-report"],
)
def test_problem_words_alone_never_escalate(messages):
    result = score_frustration(messages)

    assert not result.escalate


def test_problem_words_escalate_once_a_real_cue_joins_them():
    policy = parse_triage_config({"frustration": {"plain_cues": []}})

    # Without the plain_cues guard the same calm report escalates.
    assert score_frustration(["broken, error, cannot log in"], policy).escalate
    assert not score_frustration(["broken, error, cannot log in"]).escalate
    assert score_frustration(["Broken again, third time. Unacceptable."]).escalate


def test_a_single_word_is_not_read_as_certain():
    # VADER gives a one-word message a negative share of 1.0; it is damped.
    score, _, reasons = score_message("error")

    assert reasons[0] != "other model 1.00"
    assert float(reasons[0].rsplit(" ", 1)[1]) < 0.9


@pytest.mark.parametrize(
    ("denied", "plain"),
    [
        ("Saya tidak kecewa, hanya bertanya.", "Saya kecewa, hanya bertanya."),
        ("I am not disappointed, just asking.", "I am disappointed, just asking."),
    ],
    ids=["id", "en"],
)
def test_a_denied_word_counts_less_than_the_word(denied, plain):
    assert score_message(denied)[0] < score_message(plain)[0] - 0.2


@pytest.mark.parametrize(
    "text",
    [
        "Could you explain the refund policy?",
        "Our CEO asked for the report, could you send it?",
        "FYI legal team needs a copy of the DPA.",
        "I can't thank you enough!",
    ],
    ids=["refund-question", "ceo-mention", "legal-mention", "thanks-idiom"],
)
def test_mentions_are_not_threats(text):
    result = score_frustration([text])

    assert not result.escalate
    assert not any(
        family in reason
        for reason in result.reasons
        for family in ("cancel_threat", "escalate_management", "legal")
    )


def test_the_latest_message_reasons_include_the_model_share():
    result = score_frustration(["Still waiting!!! Third time I ask."])

    assert result.reasons[1].startswith("latest message: en model ")


def test_followup_sample_is_chosen_by_label_length_and_topic_only():
    from sample_followups import ROWS, pick

    rows = [
        {
            "id": f"n{i}",
            "text": f"pelayanan cs lambat sekali, tiket nomor {i:03d}",
            "label": "negative",
        }
        for i in range(60)
    ]
    rows += [
        {"id": "p", "text": "pelayanan cs cepat dan ramah sekali", "label": "positive"},
        {"id": "short", "text": "cs lambat", "label": "negative"},
        {
            "id": "off-topic",
            "text": "makanan di warung ini basi dan mahal sekali",
            "label": "negative",
        },
    ]

    chosen = pick(rows)

    assert len(chosen) == ROWS
    assert {row["id"] for row in chosen} <= {f"n{i}" for i in range(60)}
    assert pick(rows) == chosen
