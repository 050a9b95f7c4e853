"""Reading ids and enums out of Zendesk webhook bodies."""

from __future__ import annotations

import pytest

from webhooks.errors import BadRequest
from webhooks.parse import IgnoredEvent, parse_body, to_enum, to_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5158", 5158),
        (" 42 ", 42),
        (8447388090494, 8447388090494),
        ("", None),
        (None, None),
    ],
    ids=["string", "padded", "int", "empty", "null"],
)
def test_to_id_accepts_numbers_and_digit_strings(value, expected):
    assert to_id(value, "x") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(str(2**63 - 1), 2**63 - 1), (2**63 - 1, 2**63 - 1), ("1", 1)],
    ids=["largest-text", "largest-int", "smallest"],
)
def test_to_id_accepts_the_signed_64_bit_range(value, expected):
    assert to_id(value, "x") == expected


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "{{ticket.id}}",
        "-5",
        "0",
        0,
        True,
        3.5,
        ["1"],
        2**63,
        str(2**63),
        "1" * 30,
        "1" * 10_000,
        "\u00b2",
        "\u0663\u0664",
        "\uff15",
        "+5",
        "5_000",
    ],
    ids=[
        "word",
        "placeholder",
        "negative",
        "zero-text",
        "zero",
        "bool",
        "float",
        "list",
        "int-2**63",
        "text-2**63",
        "30-digits",
        "10000-digits",
        "superscript-two",
        "arabic-indic-digits",
        "fullwidth-digit",
        "plus-sign",
        "underscore",
    ],
)
def test_to_id_refuses_anything_else_naming_the_field(value):
    with pytest.raises(BadRequest) as raised:
        to_id(value, "detail.requester_id")

    assert raised.value.field == "detail.requester_id"


def test_superscript_and_other_script_digits_are_not_ascii_digits():
    # The trap the id check guards against: str.isdigit() says yes to these.
    assert all(text.isdigit() for text in ("\u00b2", "\u0663", "\uff15"))


def test_to_id_required_names_the_missing_field():
    with pytest.raises(BadRequest, match="ticket_id is required"):
        to_id("", "ticket_id", required=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("OPEN", "open"), ("Urgent", "urgent"), ("-", None), ("", None), (None, None)],
    ids=["event-enum", "trigger-label", "dash", "empty", "null"],
)
def test_to_enum_lowercases_and_blanks(value, expected):
    assert to_enum(value) == expected


def test_ticket_id_falls_back_to_the_subject():
    body = b'{"type": "zen:event-type:ticket.tags_changed", "id": "e1",'
    body += b' "subject": "zen:ticket:77", "detail": {}}'

    parsed = parse_body(body)

    assert parsed.ticket_id == 77
    assert parsed.dedupe_keys == ("event:e1",)


def test_dedupe_keys_include_the_ticket_update_stamp():
    body = b'{"ticket_id": "9", "ticket_updated_at": "2025-03-04T09:20:00Z"}'

    parsed = parse_body(body)

    assert parsed.dedupe_keys == ("ticket:9:2025-03-04T09:20:00Z:trigger",)


def test_nanosecond_event_time_and_offset_timestamps_are_kept_as_sent():
    body = b'{"type": "zen:event-type:ticket.created", "id": "e1",'
    body += b' "time": "2025-03-04T09:15:02.418330125Z",'
    body += b' "detail": {"id": "9", "updated_at": "2025-03-04T10:15:02+01:00"}}'

    parsed = parse_body(body)

    assert parsed.payload["event_time"] == "2025-03-04T09:15:02.418330125Z"
    assert parsed.payload["updated_at"] == "2025-03-04T10:15:02+01:00"


def test_unknown_event_type_is_not_echoed_when_implausible():
    body = b'{"type": "zen:event-type:\\n' + b"x" * 500 + b'", "detail": {}}'

    assert parse_body(body) == IgnoredEvent(event_type="unrecognised")


def test_non_ticket_event_is_ignored_with_its_type():
    body = b'{"type": "zen:event-type:organization.created", "detail": {"id": "1"}}'

    assert parse_body(body) == IgnoredEvent(event_type="organization.created")
