"""MLflow's run filter and order_by grammar, rewritten into loopml's search language.

The two languages share their shape (`metrics.rmse < 3 and params.model = 'gbm'`); they
differ in how keys are written and in units. MLflow quotes keys with double quotes or
backticks (`tags."mlflow.runName"`), names attributes `attributes.run_name` or
`attributes.start_time` (milliseconds) and spells prefixes several ways. The rewrite works
on tokens, so values are never touched except times, which become seconds.
"""

from __future__ import annotations

import re

from loopml.errors import ValidationError

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<key>(?P<prefix>[A-Za-z_]+)\.(?P<name>`[^`]+`|"[^"]+"|[A-Za-z0-9_][\w\-./:]*))
    | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op><=|>=|!=|<>|==|=|<|>)
    | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)
_PREFIXES = {
    "metric": "metrics",
    "metrics": "metrics",
    "param": "params",
    "params": "params",
    "parameter": "params",
    "parameters": "params",
    "tag": "tags",
    "tags": "tags",
    "attribute": "",
    "attributes": "",
    "attr": "",
    "run": "",
}
_ATTRIBUTES = {
    "run_id": "run_id",
    "run_name": "name",
    "status": "status",
    "start_time": "start_time",
    "end_time": "end_time",
    "created": "start_time",
    "creation_time": "start_time",
}
_TIMES = {"start_time", "end_time"}
_KEYWORDS = {"AND", "OR", "LIKE", "ILIKE", "IN", "NOT"}


def _attribute(name: str, text: str) -> str:
    found = _ATTRIBUTES.get(name.lower())
    if found is None:
        raise ValidationError(
            f"attribute {name!r} in {text!r} is not searchable here; use one of "
            f"{', '.join(sorted(_ATTRIBUTES))}"
        )
    return found


def _key(prefix: str, name: str, text: str) -> str:
    kind = _PREFIXES.get(prefix.lower())
    if kind is None:
        raise ValidationError(
            f"{prefix}.{name} in {text!r}: search by metrics., params., tags. or attributes. "
            "(datasets. is not supported by loopml's MLflow API)"
        )
    bare = name[1:-1] if name[:1] in '`"' else name
    if not kind:
        return _attribute(bare, text)
    if "`" in bare:
        raise ValidationError(f"key {bare!r} in {text!r} cannot contain a backtick")
    return f"{kind}.`{bare}`"


def translate_filter(text: str | None) -> str | None:
    """loopml's filter for MLflow's `text` (None or blank: no filter)."""
    if text is None or not text.strip():
        return None
    out: list[str] = []
    pos, time_pending = 0, False
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ValidationError(
                f"cannot read the filter at position {pos}: {text[pos : pos + 20]!r}; "
                "example: \"metrics.rmse < 3 and params.model = 'gbm'\""
            )
        pos = match.end()
        kind = match.lastgroup
        if kind == "name":  # the `key` group ends with its `name` subgroup
            kind = "key"
        token = match.group(kind or "")
        if kind == "key":
            translated = _key(match.group("prefix"), match.group("name"), text)
            time_pending = translated in _TIMES
            out.append(translated)
        elif kind == "word":
            if token.upper() in _KEYWORDS:
                out.append(token.upper())
            elif token.upper() in ("IS", "NULL"):
                raise ValidationError(
                    f"IS NULL / IS NOT NULL in {text!r} is not supported by loopml's MLflow API"
                )
            else:
                translated = _attribute(token, text)
                time_pending = translated in _TIMES
                out.append(translated)
        elif kind == "number" and time_pending:
            out.append(repr(float(token) / 1000.0))
            time_pending = False
        elif kind == "op":
            out.append("!=" if token == "<>" else token)
        else:
            out.append(token)
    return " ".join(out)


def translate_order_by(items: list[str] | None) -> list[str]:
    """loopml's order_by for MLflow's (`metrics.m0 DESC`, `attributes.start_time`)."""
    orders = []
    for item in items or []:
        if not isinstance(item, str) or not item.strip():
            raise ValidationError(f"order_by entries are strings like 'metrics.m0 DESC': {item!r}")
        head, _, last = item.strip().rpartition(" ")
        direction = ""
        if head and last.upper() in ("ASC", "DESC"):
            direction, item = " " + last.upper(), head.strip()
        else:
            item = item.strip()
        prefix, dot, name = item.partition(".")
        key = _key(prefix, name, item) if dot else _attribute(item, item)
        orders.append(key + direction)
    return orders
