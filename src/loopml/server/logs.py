"""The server's logging: uvicorn's set-up, everything on standard error, tokens redacted.

A token is never logged by loopml (it travels in a header, which no log line shows), but a
client may put one where it does not belong, say in a URL that the access log prints.
Every handler therefore passes its records through `RedactTokens`, which replaces anything
shaped like an API or deployment token (messages, arguments and tracebacks alike).
Standard output stays for the one announcement of the first start (bootstrap.py).
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

TOKEN_SHAPE = re.compile(r"(lml|lmd)_[A-Za-z0-9_\-]+")
REDACTED = r"\1_[redacted]"


def redact(text: str) -> str:
    return TOKEN_SHAPE.sub(REDACTED, text)


class RedactTokens(logging.Filter):
    """Rewrites a record so that no token-shaped text reaches a handler's output."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's logging configuration with the redaction on every handler, access lines
    on standard error, and loopml's own loggers at `level`."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_tokens": {"()": RedactTokens}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_tokens"]
        handler["stream"] = "ext://sys.stderr"
    config["loggers"]["loopml"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config
