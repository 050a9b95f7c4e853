"""Text cleaning: what counts as the customer's own words."""

from __future__ import annotations

import pytest

from rules.text import clean_text


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            "2024-05-01 10:00 our whole production is down",
            "2024-05-01 10:00 our whole production is down",
        ),
        ("> 50 users cannot log in", "> 50 users cannot log in"),
        (
            "On Monday the site went down and our team wrote:\nstill down",
            "On Monday the site went down and our team wrote:\nstill down",
        ),
    ],
    ids=["date-at-line-start", "more-than-quote", "on-monday-wrote"],
)
def test_customer_words_that_look_like_machine_lines_are_kept(text, kept):
    assert clean_text(text) == kept


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("down\n2024-05-01 10:00:01 ERROR pool exhausted", "down"),
        ("still down\n> old quoted line", "still down"),
        (
            "still down\nOn Mon, 1 May 2024, Jane <j@x.example> wrote:\n> old",
            "still down",
        ),
        (
            "masih down\nPada Senin, Tim Support menulis:\nServer down total",
            "masih down",
        ),
    ],
    ids=["log-line", "quote", "reply-header", "id-reply-header"],
)
def test_machine_lines_and_quoted_mail_are_dropped(text, kept):
    assert clean_text(text) == kept


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("a <script>x()</script> b <STYLE>p{}</Style> c", "a   b   c"),
        ("a <!-- note --> b", "a   b"),
        ("visible <!-- never closed data loss", "visible"),
        ("visible <script> never closed data loss", "visible"),
        ("a <<<<<< b", "a <<<<<< b"),
    ],
    ids=["closed", "comment", "open-comment", "open-script", "stray-brackets"],
)
def test_html_scripts_and_comments_are_cut_even_unclosed(text, kept):
    assert clean_text(text) == kept


@pytest.mark.parametrize(
    "text",
    [
        "\n" * 40_000,
        " \n" * 20_000,
        "<!--" * 10_000,
        "<script>" * 10_000,
        ">\n" * 20_000,
    ],
    ids=["newlines", "blank-lines", "comments", "scripts", "quotes"],
)
def test_hostile_bodies_clean_to_nothing(text):
    assert clean_text(text) == ""


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            "Please resend invoice 42.\n--\nJane\nUnauthorized access is prohibited.",
            "Please resend invoice 42.",
        ),
        (
            "Please resend invoice 42.\nCONFIDENTIAL: for the addressee only. "
            "Unauthorized access is prohibited.",
            "Please resend invoice 42.",
        ),
        (
            "Please resend invoice 42.\nThis email and any attachments are "
            "confidential and intended solely for the addressee.",
            "Please resend invoice 42.",
        ),
        (
            "Mohon kirim ulang invoice 42.\nEmail ini bersifat rahasia dan hanya "
            "ditujukan kepada penerima.",
            "Mohon kirim ulang invoice 42.",
        ),
    ],
    ids=["signature", "confidential", "this-email", "id-disclaimer"],
)
def test_signatures_and_legal_footers_are_cut(text, kept):
    assert clean_text(text) == kept
