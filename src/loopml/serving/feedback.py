"""Feedback: true labels, only for requests that were answered, checked against the model.

Labels feed the accuracy monitors and the rollout analysis, so a forged one is an attack on
them: a label must name a request this deployment answered (known from this process's
recent answers, else from the prediction log), have one value per row when given per row,
and fit the model's output — a finite number for a regression, one of the model's classes
for a classifier. A second label for a request is recorded as its next version (history
kept, the latest wins), and the labels of each deployment are audited in aggregate.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loopml.governance import append_event
from loopml.registry.packaging import FieldError, LoadedModel
from loopml.serving.errors import ServingError
from loopml.store import Stores

log = logging.getLogger(__name__)

REMEMBERED_ANSWERS = 200_000  # recent answers kept in memory (~60 MB at most)
AUDIT_EVERY_S = 60.0
_NUMBER_OUTPUTS = frozenset({"float", "integer"})
_SHOWN_CLASSES = 20


@dataclass(slots=True)
class Answered:
    """What feedback must match: the request's deployment, model and rows; labels so far."""

    deployment: str
    model: str
    rows: int
    labels: int = 0


class AnsweredRequests:
    """The requests this process answered most recently, by request id (bounded).

    An answer is kept as a tuple of a string, a string and an int, which the garbage
    collector stops tracking: 200,000 tracked objects made each full collection of a busy
    server scan them all (docs/serving.md, "Pauses"). It becomes an `Answered` only when
    feedback arrives for it.
    """

    def __init__(self, capacity: int = REMEMBERED_ANSWERS) -> None:
        self.capacity = capacity
        self._answers: OrderedDict[str, tuple[str, str, int] | Answered] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, request_id: str, deployment: str, model: str, rows: int) -> None:
        with self._lock:
            self._answers[request_id] = (deployment, model, rows)
            self._answers.move_to_end(request_id)
            if len(self._answers) > self.capacity:
                self._answers.popitem(last=False)

    def get(self, request_id: str) -> Answered | None:
        with self._lock:
            entry = self._answers.get(request_id)
            if isinstance(entry, tuple):
                entry = self._answers[request_id] = Answered(*entry)
            return entry

    def remember(self, request_id: str, answered: Answered) -> Answered:
        """Keep an answer found in the log, so its next label needs no query."""
        with self._lock:
            entry = self._answers.setdefault(request_id, answered)
            if isinstance(entry, tuple):
                entry = self._answers[request_id] = Answered(*entry)
            return entry

    def next_version(self, answered: Answered) -> int:
        with self._lock:
            answered.labels += 1
            return answered.labels


@dataclass(frozen=True)
class LabelRule:
    """Which labels a model's output admits: `number`, `class` (with `classes`) or `any`."""

    kind: str
    classes: tuple[Any, ...] = ()

    @classmethod
    def of(cls, model: LoadedModel) -> LabelRule:
        classes = getattr(model.raw, "classes_", None)
        if classes is not None:
            return cls("class", tuple(_plain(c) for c in classes))
        outputs = model.signature.outputs if model.signature is not None else []
        if outputs and outputs[0].type in _NUMBER_OUTPUTS:
            return cls("number")
        if outputs and outputs[0].categories:
            return cls("class", tuple(outputs[0].categories))
        return cls("any")

    def problem(self, label: Any) -> str | None:
        """Why `label` cannot be a true outcome of this model (None: it can)."""
        if self.kind == "number":
            if isinstance(label, bool) or not isinstance(label, int | float):
                return f"expected a number (the model is a regression), got {_kind(label)}"
            if not math.isfinite(label):
                return "expected a finite number"
            return None
        if self.kind == "class":
            if not any(_same(label, c) for c in self.classes):
                return f"unknown class {label!r}"
            return None
        if isinstance(label, dict | list):
            return f"expected a single value, got {_kind(label)}"
        return None

    def hint(self) -> str:
        if self.kind == "number":
            return "send the observed value as a JSON number"
        if self.kind == "class":
            shown = ", ".join(repr(c) for c in self.classes[:_SHOWN_CLASSES])
            more = " …" if len(self.classes) > _SHOWN_CLASSES else ""
            return f"send one of the model's classes: {shown}{more}"
        return "send one value per label"


def check_labels(rule: LabelRule, labels: Any, rows: int, per_row: bool) -> None:
    """HTTP 422 listing every label that does not fit (and a wrong count of labels)."""
    if per_row:
        if len(labels) != rows:  # well formed, but at odds with the stored answer: 409
            raise ServingError.one(
                409,
                "labels",
                f"{len(labels)} labels for a request of {rows} row(s)",
                f"send exactly {rows} labels (one per row), or one `label` for the whole request",
            )
        errors = [
            FieldError(f"labels[{i}]", problem, rule.hint())
            for i, label in enumerate(labels)
            if (problem := rule.problem(label)) is not None
        ]
    else:
        problem = rule.problem(labels)
        errors = [] if problem is None else [FieldError("label", problem, rule.hint())]
    if errors:
        raise ServingError(422, errors[:20])


def never_answered(deployment: str, request_id: str) -> ServingError:
    return ServingError.one(
        404,
        "request_id",
        f"deployment {deployment!r} answered no request {request_id!r}",
        "send feedback for a request_id returned by its predict endpoint; an answer from "
        "another server reaches the log within a second or two",
    )


@dataclass
class FeedbackAudit:
    """Labels counted per deployment, written to the audit trail as one event a minute."""

    stores: Stores
    every_s: float = AUDIT_EVERY_S
    clock: Callable[[], float] = time.time
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    since: float = field(default_factory=time.time)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, deployment: str, outcome: str) -> None:
        """`outcome`: labels, relabels or refused."""
        with self._lock:
            tally = self.counts.setdefault(deployment, {"labels": 0, "relabels": 0, "refused": 0})
            tally[outcome] += 1

    def maybe_flush(self) -> None:
        if self.clock() - self.since >= self.every_s:
            self.flush()

    def flush(self) -> None:
        """One `feedback.summary` event per deployment that received feedback."""
        with self._lock:
            counts, self.counts = self.counts, {}
            since, self.since = self.since, self.clock()
        if not counts:
            return
        try:
            with self.stores.engine.begin() as conn:
                for deployment, tally in sorted(counts.items()):
                    details = {**tally, "since": since, "until": self.since}
                    obj = f"deployment:{deployment}"
                    append_event(conn, self.stores.actor, "feedback.summary", obj, details)
        except Exception:
            with self._lock:  # not written: count them again next time
                self.since = since
                for deployment, tally in counts.items():
                    mine = self.counts.setdefault(deployment, dict.fromkeys(tally, 0))
                    for outcome, n in tally.items():
                        mine[outcome] += n
            raise


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _same(label: Any, cls: Any) -> bool:
    if isinstance(label, bool) != isinstance(cls, bool):
        return False  # True == 1 in Python, but not as a class label
    if isinstance(label, dict | list):
        return False
    return bool(label == cls)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
