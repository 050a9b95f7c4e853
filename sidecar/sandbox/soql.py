"""A tiny SOQL interpreter for the queries the sidecar sends to Salesforce.

Understood: ``SELECT f1, Rel.f2 FROM Object [WHERE cond {AND|OR} cond] [LIMIT n]``
where a condition is ``Field = 'text'``, ``Field != 'text'`` or
``Field LIKE 'pattern'``. String literals use the backslash escapes that
``simple_salesforce.format_soql`` writes. Comparison is case-insensitive, as
in Salesforce. Errors carry Salesforce's error codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

API_PATH = "/services/data/v59.0"

# Standard fields per object; custom fields come from the records themselves.
STANDARD_FIELDS: dict[str, tuple[str, ...]] = {
    "Account": (
        "Id",
        "Name",
        "Website",
        "Type",
        "Industry",
        "AnnualRevenue",
        "AccountNumber",
        "Rating",
        "OwnerId",
        "ParentId",
        "Phone",
    ),
    "Contact": (
        "Id",
        "Name",
        "FirstName",
        "LastName",
        "Email",
        "Title",
        "Phone",
        "AccountId",
        "OwnerId",
        "Department",
    ),
    "User": ("Id", "Name", "Email", "Username", "IsActive"),
}

# Relationship name -> (lookup field, target object), per object.
RELATIONSHIPS: dict[str, dict[str, tuple[str, str]]] = {
    "Account": {"Owner": ("OwnerId", "User"), "Parent": ("ParentId", "Account")},
    "Contact": {"Account": ("AccountId", "Account"), "Owner": ("OwnerId", "User")},
    "User": {},
}

ESCAPES = {
    "'": "'",
    '"': '"',
    "\\": "\\",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
}
LIKE_ESCAPES = {"_": "\\_", "%": "\\%"}

QUERY_RE = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
CONDITION_RE = re.compile(
    r"\s*(?P<field>[\w.]+)\s*(?P<op>=|!=|LIKE)\s*'(?P<value>(?:\\.|[^'\\])*)'\s*",
    re.IGNORECASE | re.DOTALL,
)
JOIN_RE = re.compile(r"\s*(AND|OR)\b", re.IGNORECASE)


class SoqlError(Exception):
    """A query Salesforce would refuse with HTTP 400."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def body(self) -> list[dict[str, str]]:
        return [{"message": self.message, "errorCode": self.code}]


@dataclass(frozen=True)
class Condition:
    path: tuple[str, ...]
    op: str
    value: str


@dataclass(frozen=True)
class Query:
    object: str
    fields: tuple[tuple[str, ...], ...]
    conditions: tuple[Condition, ...]
    join: str
    limit: int | None


class Schema:
    """Field names of each object: the standard ones plus what records carry."""

    def __init__(
        self,
        tables: dict[str, dict[str, dict[str, Any]]],
        custom_fields: dict[str, list[str]] | None = None,
    ) -> None:
        self.tables = tables
        self.fields: dict[str, dict[str, str]] = {}
        for name, standard in STANDARD_FIELDS.items():
            names = set(standard) | set((custom_fields or {}).get(name, []))
            for record in tables.get(name, {}).values():
                names.update(k for k in record if k != "attributes")

            self.fields[name] = {n.lower(): n for n in names}

    def canonical_object(self, name: str) -> str:
        for known in self.fields:
            if known.lower() == name.lower():
                return known

        raise SoqlError(
            "INVALID_TYPE",
            f"\n{name}\n^\nERROR at Row:1:Column:1\nsObject type '{name}' is not "
            "supported. If you are attempting to use a custom object, be sure to "
            "append the '__c' after the entity name.",
        )

    def resolve(self, obj: str, path: tuple[str, ...]) -> tuple[str, ...]:
        """Canonical spelling of a dotted field path, or INVALID_FIELD."""
        *relations, last = path
        canonical: list[str] = []
        current = obj
        for relation in relations:
            known = {k.lower(): k for k in RELATIONSHIPS[current]}
            if relation.lower() not in known:
                raise _invalid_field(".".join(path), current, relation=True)

            name = known[relation.lower()]
            canonical.append(name)
            current = RELATIONSHIPS[current][name][1]

        if last.lower() not in self.fields[current]:
            raise _invalid_field(last, current)

        return (*canonical, self.fields[current][last.lower()])


def parse(soql: str, schema: Schema) -> Query:
    """Parse and check ``soql`` against ``schema``; raise SoqlError if refused."""
    match = QUERY_RE.match(soql)
    if match is None:
        raise _malformed(soql)

    obj = schema.canonical_object(match["object"])
    raw_fields = [f.strip() for f in match["fields"].split(",")]
    if any(not re.fullmatch(r"[\w.]+", f) for f in raw_fields):
        raise _malformed(soql)

    fields = tuple(schema.resolve(obj, tuple(f.split("."))) for f in raw_fields)
    conditions, join = _parse_where(match["where"] or "", obj, schema, soql)
    limit = int(match["limit"]) if match["limit"] else None
    return Query(obj, fields, conditions, join, limit)


def _parse_where(
    text: str, obj: str, schema: Schema, soql: str
) -> tuple[tuple[Condition, ...], str]:
    conditions: list[Condition] = []
    joins: set[str] = set()
    position = 0
    while position < len(text):
        found = CONDITION_RE.match(text, position)
        if found is None:
            raise _malformed(soql)

        op = found["op"].upper()
        path = schema.resolve(obj, tuple(found["field"].split(".")))
        conditions.append(Condition(path, op, unescape(found["value"], op == "LIKE")))
        position = found.end()
        joined = JOIN_RE.match(text, position)
        if joined is not None:
            joins.add(joined[1].upper())
            position = joined.end()

    if len(joins) > 1:
        raise _malformed(soql)

    return tuple(conditions), (joins.pop() if joins else "AND")


def unescape(text: str, like: bool) -> str:
    """Undo SOQL quoting; in LIKE patterns keep ``\\_``/``\\%`` as literal marks."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "\\" or index + 1 == len(text):
            out.append(char)
            index += 1
            continue

        escaped = text[index + 1]
        if escaped in LIKE_ESCAPES:
            out.append(LIKE_ESCAPES[escaped] if like else escaped)
        elif escaped in ESCAPES:
            out.append(ESCAPES[escaped])
        else:
            raise SoqlError("MALFORMED_QUERY", f"Invalid string literal: {text}")

        index += 2

    return "".join(out)


def like_to_regex(pattern: str) -> re.Pattern[str]:
    """A LIKE pattern (``%``, ``_``; ``\\%``/``\\_`` literal) as a regex."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith(("\\%", "\\_"), index):
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue

        char = pattern[index]
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1

    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def run(query: Query, schema: Schema) -> list[dict[str, Any]]:
    """Rows matching ``query``, shaped as Salesforce returns them."""
    rows = []
    for record in schema.tables.get(query.object, {}).values():
        if _matches(query, record, schema):
            rows.append(_shape(query.object, record, query.fields, schema))

        if query.limit is not None and len(rows) >= query.limit:
            break

    return rows


def _matches(query: Query, record: dict[str, Any], schema: Schema) -> bool:
    results = []
    for condition in query.conditions:
        value = _lookup(query.object, record, condition.path, schema)
        text = "" if value is None else str(value)
        if condition.op == "LIKE":
            results.append(like_to_regex(condition.value).fullmatch(text) is not None)
        else:
            equal = text.lower() == condition.value.lower()
            results.append(equal if condition.op == "=" else not equal)

    if not results:
        return True

    return all(results) if query.join == "AND" else any(results)


def _lookup(
    obj: str, record: dict[str, Any] | None, path: tuple[str, ...], schema: Schema
) -> Any:
    if record is None:
        return None

    if len(path) == 1:
        return record.get(path[0])

    lookup_field, target = RELATIONSHIPS[obj][path[0]]
    parent = schema.tables.get(target, {}).get(str(record.get(lookup_field)))
    return _lookup(target, parent, path[1:], schema)


def _shape(
    obj: str,
    record: dict[str, Any],
    fields: tuple[tuple[str, ...], ...],
    schema: Schema,
) -> dict[str, Any]:
    shaped: dict[str, Any] = {"attributes": _attributes(obj, record)}
    for path in fields:
        _put(obj, record, path, shaped, schema)

    return shaped


def _put(
    obj: str,
    record: dict[str, Any],
    path: tuple[str, ...],
    into: dict[str, Any],
    schema: Schema,
) -> None:
    if len(path) == 1:
        into[path[0]] = record.get(path[0])
        return

    lookup_field, target = RELATIONSHIPS[obj][path[0]]
    parent = schema.tables.get(target, {}).get(str(record.get(lookup_field)))
    if parent is None:
        into[path[0]] = None
        return

    nested = into.get(path[0]) or {"attributes": _attributes(target, parent)}
    into[path[0]] = nested
    _put(target, parent, path[1:], nested, schema)


def _attributes(obj: str, record: dict[str, Any]) -> dict[str, str]:
    return {"type": obj, "url": f"{API_PATH}/sobjects/{obj}/{record.get('Id')}"}


def _invalid_field(name: str, obj: str, relation: bool = False) -> SoqlError:
    if relation:
        message = (
            f"Didn't understand relationship '{name.split('.')[0]}' in field path. "
            "If you are attempting to use a custom relationship, be sure to append "
            "the '__r' after the custom relationship name."
        )
    else:
        message = (
            f"No such column '{name}' on entity '{obj}'. If you are attempting to "
            "use a custom field, be sure to append the '__c' after the custom "
            "field name. Please reference your WSDL or the describe call for the "
            "appropriate names."
        )

    return SoqlError("INVALID_FIELD", message)


def _malformed(soql: str) -> SoqlError:
    return SoqlError(
        "MALFORMED_QUERY", f"\n{soql}\n^\nERROR at Row:1:Column:1\nunexpected token"
    )
