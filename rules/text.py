"""Text cleaning shared by triage: keep only the words the customer wrote.

Before any phrase is matched or any sentiment scored, a ticket text loses what
the customer did not write in their own words: HTML markup, earlier mail that
a reply quotes (``>`` lines, ``On ... wrote:``, ``-----Original Message-----``,
Indonesian ``Pada ... menulis:``), stack traces, log lines and fenced code.
Binary-looking bytes are dropped and very long texts are cut, so that a 1 MB
body costs no more than its first :data:`MAX_CHARS` characters.
"""

from __future__ import annotations

import html
import re

# Triage reads the start of a message; anything past this is logs or pastes.
MAX_CHARS = 20_000

_TAG = re.compile(r"<[^>]{0,2000}>")
_BLOCK_TAG = re.compile(r"<\s*(?:br|/p|/div|/li|/tr|p|div|li|tr)\b[^>]{0,2000}>", re.I)
_SCRIPT = re.compile(r"<\s*(script|style)\b.*?<\s*/\s*\1\s*>", re.I | re.S)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)?")

# A line that starts the quoted part of a reply: everything after it is old.
_REPLY_HEADER = re.compile(
    r"^\s*(?:"
    r"on\b.{0,300}\bwrote:\s*$"
    r"|pada\b.{0,300}\bmenulis:\s*$"
    r"|-{2,}\s*(?:original message|forwarded message|pesan asli|pesan terusan)"
    r"\s*-{2,}.*$"
    r"|from:\s.{0,300}$(?=\n\s*(?:sent|date|to|dikirim|tanggal):)"
    r"|dari:\s.{0,300}$(?=\n\s*(?:dikirim|tanggal|kepada|sent|date|to):)"
    r")",
    re.I | re.M,
)

# Lines that are machine output, not prose.
_MACHINE_LINE = re.compile(
    r"^\s*(?:"
    r">.*"
    r"|at\s+[\w$.<>]+\(.*\)\s*"
    r"|at\s+[\w$./<>]+:\d+(?::\d+)?\)?\s*"
    r"|file \".*\", line \d+.*"
    r"|traceback \(most recent call last\):.*"
    r"|\.\.\. \d+ more\s*"
    r"|caused by:.*"
    r"|exception in thread.*"
    r"|#\d+\s+0x[0-9a-f]+.*"
    r"|\[?\d{4}-\d{2}-\d{2}[ t]\d{2}:\d{2}(?::\d{2})?\S*\]?.*"
    r"|\[?\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\]?\s.*"
    r"|\[(?:trace|debug|info|warn|warning|error|fatal|critical)\].*"
    r"|[\w.]+(?:error|exception)(?::.*)?"
    r")$",
    re.I,
)


def strip_html(text: str) -> str:
    """Remove tags, comments, scripts and entities; block tags become breaks."""
    if "<" not in text and "&" not in text:
        return text

    text = _SCRIPT.sub(" ", text)
    text = _HTML_COMMENT.sub(" ", text)
    text = _BLOCK_TAG.sub("\n", text)
    text = _TAG.sub(" ", text)

    return html.unescape(text)


def strip_quoted(text: str) -> str:
    """Cut the quoted earlier mail off a reply (everything from its header)."""
    match = _REPLY_HEADER.search(text)
    if match is None:
        return text

    return text[: match.start()]


def strip_machine_lines(text: str) -> str:
    """Drop fenced code, stack-trace frames, log lines and ``>`` quotes."""
    text = _FENCE.sub("\n", text)
    lines = [line for line in text.split("\n") if not _MACHINE_LINE.match(line)]

    return "\n".join(lines)


def is_binary_looking(text: str) -> bool:
    """True when a sample of the text is mostly control or replacement chars."""
    sample = text[:2000]
    if not sample:
        return False

    bad = len(_CONTROL.findall(sample))

    return bad > len(sample) * 0.1


def clean_text(text: str | None) -> str:
    """The customer's own words in ``text``, ready for matching."""
    if not text:
        return ""

    if is_binary_looking(text):
        return ""

    text = text[: MAX_CHARS * 2].replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(" ", strip_html(text))
    text = strip_machine_lines(strip_quoted(text))

    return text[:MAX_CHARS].strip()


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (letters and digits, inner apostrophes kept)."""
    return [token.replace("\u2019", "'") for token in _WORD.findall(text.lower())]
