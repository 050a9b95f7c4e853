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
from functools import lru_cache

# Triage reads the start of a message; anything past this is logs or pastes.
MAX_CHARS = 20_000

# Tag bodies stop at the next "<", so a run of stray "<" costs linear time.
_TAG = re.compile(r"<[^<>]{0,2000}>")
_BLOCK_TAG = re.compile(r"<\s*(?:br|/p|/div|/li|/tr|p|div|li|tr)\b[^<>]{0,2000}>", re.I)
_SCRIPT_OPEN = re.compile(r"<\s*(script|style)\b", re.I)
_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)?")

# A line that starts the quoted part of a reply, a signature or a legal
# footer: everything after it is not the customer's message.
# "On <date>, <name> wrote:" always carries a digit, a comma, "<" or "@",
# which tells it from a customer's "On Monday the site went down and we wrote:".
# Only blanks and tabs are skipped at a line start: skipping newlines there
# would rescan every following blank line from each line (quadratic time).
_REPLY_HEADER = re.compile(
    r"^[ \t]*(?:"
    r"on\b(?=[^\n]{0,300}[\d,<@])[^\n]{0,300}\bwrote:[ \t]*$"
    r"|pada\b(?=[^\n]{0,300}[\d,<@])[^\n]{0,300}\bmenulis:[ \t]*$"
    r"|-{2,}[ \t]*(?:original message|forwarded message|pesan asli|pesan terusan)"
    r"[ \t]*-{2,}.*$"
    r"|from:[ \t].{0,300}$(?=\n[ \t]*(?:sent|date|to|dikirim|tanggal):)"
    r"|dari:[ \t].{0,300}$(?=\n[ \t]*(?:dikirim|tanggal|kepada|sent|date|to):)"
    r")",
    re.I | re.M,
)

# The signature delimiter and the legal footers companies add to every mail
# ("Unauthorized access ... is prohibited" is not an incident). They end a
# message, so they cut only after FOOTER_AFTER characters of the customer's
# own words: "Confidential: we suspect unauthorized access" is a report.
FOOTER_AFTER = 20
_FOOTER = re.compile(
    r"^[ \t]*(?:"
    r"--[ \t]*$"
    r"|(?:confidential(?:ity)?(?: notice)?|disclaimer|perhatian)[ \t]*:.*$"
    r"|(?:this|the contents of this) (?:e-?mail|message|communication)\b"
    r"[^\n]{0,80}\b(?:confidential|intended|privileged)\b.*$"
    r"|the information (?:contained )?in this (?:e-?mail|message)\b.*$"
    r"|(?:email|e-mail|surel|pesan) ini\b[^\n]{0,80}\b(?:rahasia|ditujukan)\b.*$"
    r")",
    re.I | re.M,
)
# Words that mark a sentence of a mail banner or legal boilerplate, wherever
# it stands; the whole sentence goes.
_BOILERPLATE = re.compile(
    r"\b(?:strictly prohibited|is prohibited|are prohibited|dilarang|"
    r"has been scanned|was scanned|scanned for (?:viruses|malware)|"
    r"report suspicious|do not click)\b",
    re.I,
)
_SENTENCE_END = re.compile(r"[.!?\n]")
# Cheap substring test first: most messages hold none of these.
_BOILERPLATE_HINTS = ("prohibited", "dilarang", "scanned", "suspicious", "click")

# Lines that are machine output, not prose.
_MACHINE_LINE = re.compile(
    r"^\s*(?:"
    r">(?![ \t]*\d).*"
    r"|at\s+[\w$.<>]+\(.*\)\s*"
    r"|at\s+[\w$./<>]+:\d+(?::\d+)?\)?\s*"
    r"|file \".*\", line \d+.*"
    r"|traceback \(most recent call last\):.*"
    r"|\.\.\. \d+ more\s*"
    r"|caused by:.*"
    r"|exception in thread.*"
    r"|#\d+\s+0x[0-9a-f]+.*"
    r"|\[?\d{4}-\d{2}-\d{2}[ t]\d{2}:\d{2}:\d{2}\S*\]?.*"
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

    text = _cut_spans(text, _find_script, " ")
    text = _cut_spans(text, _find_comment, " ")
    text = _BLOCK_TAG.sub("\n", text)
    text = _TAG.sub(" ", text)

    return html.unescape(text)


def _find_script(text: str, lowered: str, start: int) -> tuple[int, int] | None:
    """The next ``<script>``/``<style>`` element: (start, end); unclosed runs on."""
    match = _SCRIPT_OPEN.search(text, start)
    if match is None:
        return None

    close = lowered.find("</" + match.group(1).lower(), match.end())
    if close < 0:
        return match.start(), len(text)

    end = lowered.find(">", close)

    return match.start(), len(text) if end < 0 else end + 1


def _find_comment(text: str, lowered: str, start: int) -> tuple[int, int] | None:
    """The next ``<!-- -->`` comment: (start, end); an unclosed one runs on."""
    begin = text.find("<!--", start)
    if begin < 0:
        return None

    close = text.find("-->", begin + 4)

    return begin, len(text) if close < 0 else close + 3


def _cut_spans(text: str, find, filler: str) -> str:
    """Replace each span that ``find`` reports, scanning the text once."""
    lowered = text.lower()
    parts = []
    position = 0
    while (span := find(text, lowered, position)) is not None:
        parts.append(text[position : span[0]])
        parts.append(filler)
        position = span[1]

    parts.append(text[position:])

    return "".join(parts)


def strip_quoted(text: str) -> str:
    """Cut the quoted earlier mail off a reply (everything from its header)."""
    match = _REPLY_HEADER.search(text)
    if match is None:
        return text

    return text[: match.start()]


def strip_footer(text: str) -> str:
    """Cut a signature or legal footer, and drop banner sentences anywhere."""
    for match in _FOOTER.finditer(text):
        if len(text[: match.start()].strip()) >= FOOTER_AFTER:
            text = text[: match.start()]
            break

    return _drop_boilerplate(text)


def _drop_boilerplate(text: str) -> str:
    """Remove each sentence that holds a boilerplate marker (one pass)."""
    lowered = text.lower()
    if not any(hint in lowered for hint in _BOILERPLATE_HINTS):
        return text

    parts = []
    position = 0
    for match in _BOILERPLATE.finditer(text):
        if match.start() < position:
            continue

        start = max(text.rfind(c, position, match.start()) for c in ".!?\n") + 1
        start = max(start, position)
        end_match = _SENTENCE_END.search(text, match.end())
        end = end_match.end() if end_match else len(text)
        parts.append(text[position:start])
        parts.append(" ")
        position = end

    parts.append(text[position:])

    return "".join(parts)


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


@lru_cache(maxsize=64)
def clean_text(text: str | None) -> str:
    """The customer's own words in ``text``, ready for matching.

    Cached: severity and frustration both read the same description.
    """
    if not text:
        return ""

    if is_binary_looking(text):
        return ""

    text = text[: MAX_CHARS * 2].replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(" ", strip_html(text))
    text = strip_machine_lines(strip_footer(strip_quoted(text)))

    return text[:MAX_CHARS].strip()


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (letters and digits, inner apostrophes kept)."""
    return [token.replace("\u2019", "'") for token in _WORD.findall(text.lower())]
