"""Language of a customer message: English, Indonesian or other.

Triage only needs to know which lexicon to trust, so the test is small and
fast: count the function words of each language. Code-mixed Indonesian
(``server down, mohon segera dicek``) counts as Indonesian as soon as its
Indonesian function words are at least as many as its English ones, because
English technical words are common inside Indonesian sentences but the
reverse is rare.
"""

from __future__ import annotations

from rules.text import tokenize

ENGLISH = frozenset(
    "the a an and or but is are was were be been being am i we you he she it "
    "they my our your their this that these those of to in on at for with from "
    "by not no have has had do does did can could will would should please "
    "there what when why how which who all any some since still again just "
    "very been about after before because if than then them us me its it's "
    "i'm we're don't doesn't can't won't isn't didn't now here so up out get "
    "got as also too only every everything nothing anything thanks thank yes "
    "hello hi dear regards hey".split()
)

INDONESIAN = frozenset(
    "yang dan di ke dari ini itu tidak tak bukan belum sudah udah telah akan "
    "saya kami kita aku gue gw anda kamu kalian mereka dia ada adalah dengan "
    "untuk pada dalam karena tapi tetapi juga atau sangat sekali lagi bisa "
    "dapat mohon tolong segera sejak masih harus jadi kalau jika apa kenapa "
    "mengapa bagaimana gimana kapan sama nya pun lah kah dong sih deh nih "
    "ya ga gak nggak enggak tdk sdh blm yg dgn utk krn jg tsb bgt banget "
    "terima kasih hari ini semua para oleh bagi agar supaya namun masih lebih "
    "kurang hanya cuma saja aja setelah sebelum belum lama baru".split()
)

# Fewer function words than this and the message is too short to call.
MIN_HITS = 1


def detect_language(text: str) -> str:
    """Return ``'en'``, ``'id'`` or ``'other'`` for a cleaned message."""
    tokens = tokenize(text[:4000])
    if not tokens:
        return "other"

    english = sum(1 for token in tokens if token in ENGLISH)
    indonesian = sum(1 for token in tokens if token in INDONESIAN)
    if max(english, indonesian) < MIN_HITS:
        return "other"

    if indonesian >= english:
        return "id"

    return "en"
