"""Language detection per message: English, Indonesian, other."""

from __future__ import annotations

import pytest

from rules.language import detect_language

ROWS = [
    ("en", "The export has been failing since this morning.", "en"),
    ("en-short", "Thanks, everything works now.", "en"),
    ("id", "Aplikasi tidak bisa dibuka sejak pagi, mohon segera dicek.", "id"),
    ("id-informal", "gw udah nunggu dari kemarin tapi belum ada jawaban", "id"),
    ("mixed-id-base", "Server down dari pagi, tolong di-check ASAP ya", "id"),
    ("mixed-en-base", "The dashboard is broken for all of our users, sorry ya", "en"),
    ("other-german", "Der Server ist seit heute Morgen nicht erreichbar", "other"),
    ("other-japanese", "サーバーがダウンしています", "other"),
    ("empty", "", "other"),
    ("digits", "12345 67890", "other"),
]


@pytest.mark.parametrize(
    ("text", "language"), [row[1:] for row in ROWS], ids=[row[0] for row in ROWS]
)
def test_detect_language(text, language):
    assert detect_language(text) == language
