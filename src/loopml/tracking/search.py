"""The run filter language, compiled to SQL.

    metrics.rmse < 3 and params.model = 'gbm'
    (tags.team = 'forecast' or name LIKE 'gbm-%') and status != 'FAILED'

Metrics compare numerically against their latest value; params and tags compare as text
(`=`, `!=`, `LIKE`, `ILIKE`, `IN`); attributes are `status`, `name`, `run_id`,
`start_time`, `end_time` and `parent_id`. Keys with other characters go in backticks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select

from loopml.errors import ValidationError
from loopml.store.schema import latest_metrics, params, runs, tags

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<lparen>\() | (?P<rparen>\)) | (?P<comma>,)
    | (?P<op><=|>=|!=|==|=|<|>)
    | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<ident>(?:[A-Za-z_]+\.)?(?:`[^`]+`|[A-Za-z_][\w\-./:]*))
    )""",
    re.VERBOSE,
)

_PREFIXES = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attr",
    "attribute": "attr",
    "attr": "attr",
    "run": "attr",
}
_ATTRIBUTES = {"status", "name", "run_id", "id", "start_time", "end_time", "parent_id"}
_NUMERIC_OPS = {"=", "==", "!=", "<", "<=", ">", ">="}
_TEXT_OPS = {"=", "==", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}


@dataclass
class _Token:
    kind: str
    text: str


def _tokenize(text: str) -> list[_Token]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ValidationError(
                f"cannot read the filter at position {pos}: {text[pos : pos + 20]!r}; "
                "example: \"metrics.rmse < 3 and params.model = 'gbm'\""
            )
        kind = match.lastgroup or ""
        tokens.append(_Token(kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, run_id: ColumnElement[str]) -> None:
        self.text = text
        self.run_id = run_id
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise ValidationError(f"filter {self.text!r} ends too early")
        self.pos += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token and token.kind == "ident" and token.text.upper() in words:
            self.pos += 1
            return True
        return False

    def parse(self) -> ColumnElement[bool]:
        expr = self.disjunction()
        if self.peek() is not None:
            raise ValidationError(f"unexpected {self.peek().text!r} in filter {self.text!r}")  # type: ignore[union-attr]
        return expr

    def disjunction(self) -> ColumnElement[bool]:
        parts = [self.conjunction()]
        while self.keyword("OR"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else or_(*parts)

    def conjunction(self) -> ColumnElement[bool]:
        parts = [self.atom()]
        while self.keyword("AND"):
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else and_(*parts)

    def atom(self) -> ColumnElement[bool]:
        token = self.peek()
        if token is not None and token.kind == "lparen":
            self.take()
            expr = self.disjunction()
            closing = self.peek()
            if closing is None or closing.kind != "rparen":
                raise ValidationError(f"missing ')' in filter {self.text!r}")
            self.take()
            return expr
        return self.comparison()

    def operator(self) -> str:
        if self.keyword("NOT"):
            if self.keyword("IN"):
                return "NOT IN"
            raise ValidationError(f"expected IN after NOT in filter {self.text!r}")
        for word in ("LIKE", "ILIKE", "IN"):
            if self.keyword(word):
                return word
        token = self.take()
        if token.kind != "op":
            raise ValidationError(f"expected a comparison after the key, got {token.text!r}")
        return "=" if token.text == "==" else token.text

    def value(self, op: str) -> Any:
        if op in ("IN", "NOT IN"):
            if self.take().kind != "lparen":
                raise ValidationError(f"{op} needs a list in parentheses: IN ('a', 'b')")
            items = [self.scalar()]
            while (token := self.take()).kind == "comma":
                items.append(self.scalar())
            if token.kind != "rparen":
                raise ValidationError(f"missing ')' after the {op} list")
            return items
        return self.scalar()

    def scalar(self) -> Any:
        token = self.take()
        if token.kind == "string":
            return re.sub(r"\\(.)", r"\1", token.text[1:-1])
        if token.kind == "number":
            return float(token.text)
        raise ValidationError(f"expected a quoted string or a number, got {token.text!r}")

    def comparison(self) -> ColumnElement[bool]:
        token = self.take()
        if token.kind != "ident":
            raise ValidationError(f"expected a key such as metrics.rmse, got {token.text!r}")
        kind, key = _split_key(token.text)
        op = self.operator()
        return _compile(kind, key, op, self.value(op), self.run_id)


def _split_key(text: str) -> tuple[str, str]:
    prefix, dot, rest = text.partition(".")
    if dot and prefix.lower() in _PREFIXES:
        kind, key = _PREFIXES[prefix.lower()], rest.strip("`")
    elif not dot:
        kind, key = "attr", text.strip("`")
    else:
        raise ValidationError(
            f"unknown key {text!r}: start it with metrics., params., tags. or attributes."
        )
    if kind == "attr" and key not in _ATTRIBUTES:
        raise ValidationError(f"unknown attribute {key!r}; known: {sorted(_ATTRIBUTES)}")
    return kind, key


def _apply(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op in ("IN", "NOT IN"):
        return column.in_(value) if op == "IN" else column.not_in(value)  # type: ignore[no-any-return]
    if op == "LIKE":
        return column.like(value)  # type: ignore[no-any-return]
    if op == "ILIKE":
        return column.ilike(value)  # type: ignore[no-any-return]
    return {  # type: ignore[no-any-return]
        "=": column == value,
        "!=": column != value,
        "<": column < value,
        "<=": column <= value,
        ">": column > value,
        ">=": column >= value,
    }[op]


def _compile(
    kind: str, key: str, op: str, value: Any, run_id: ColumnElement[str]
) -> ColumnElement[bool]:
    if kind == "metric":
        if op not in _NUMERIC_OPS or not isinstance(value, float):
            raise ValidationError(f"metrics.{key} compares with a number using = != < <= > >=")
        return exists(
            select(latest_metrics.c.run_id).where(
                latest_metrics.c.run_id == run_id,
                latest_metrics.c.key == key,
                _apply(latest_metrics.c.value, op, value),
            )
        )
    if kind in ("param", "tag"):
        table = params if kind == "param" else tags
        if op not in _TEXT_OPS:
            raise ValidationError(
                f"{kind}s.{key} compares as text with = != LIKE ILIKE IN; "
                "log numbers you want to compare with < or > as metrics"
            )
        text = [_as_text(v) for v in value] if isinstance(value, list) else _as_text(value)
        return exists(
            select(table.c.run_id).where(
                table.c.run_id == run_id, table.c.key == key, _apply(table.c.value, op, text)
            )
        )
    column = runs.c.id if key == "run_id" else runs.c[key]
    if key in ("start_time", "end_time"):
        if op not in _NUMERIC_OPS or not isinstance(value, float):
            raise ValidationError(f"{key} compares with a number (seconds since the epoch)")
        return _apply(column, op, value)
    if op not in _TEXT_OPS:
        raise ValidationError(f"{key} compares with = != LIKE ILIKE IN")
    return _apply(column, op, value)


def _as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def compile_filter(
    text: str | None, run_id: ColumnElement[str] | None = None
) -> ColumnElement[bool] | None:
    """SQL for a filter string, or None for no filter. Raises ValidationError when malformed.

    Conditions on metrics, params and tags look the run up by `run_id` (default `runs.id`):
    a search that walks another table's index in order passes that table's run id, so the
    database checks them before it reads the run's row (most candidates fail a filter)."""
    if text is None or not text.strip():
        return None
    return _Parser(text, runs.c.id if run_id is None else run_id).parse()


def parse_order_by(item: str) -> tuple[str, str, bool]:
    """(kind, key, descending) for `metrics.rmse`, `start_time DESC`, `params.lr ASC`."""
    if not isinstance(item, str) or not item.strip():
        raise ValidationError(
            f"order_by entries are strings like 'metrics.rmse DESC', got {item!r}"
        )
    parts = item.strip().rsplit(None, 1)
    descending = False
    if len(parts) == 2 and not parts[0].endswith("`") and not parts[1].endswith("`"):
        if parts[1].upper() not in ("ASC", "DESC"):
            raise ValidationError(
                f"order_by {item!r}: the direction must be ASC or DESC; put keys with spaces "
                "in backticks"
            )
        descending = parts[1].upper() == "DESC"
        item = parts[0]
    elif len(parts) == 2 and parts[1].upper() in ("ASC", "DESC"):
        descending = parts[1].upper() == "DESC"
        item = parts[0]
    kind, key = _split_key(item.strip())
    return kind, key, descending
