"""Replay before release: score a window of a deployment's logged requests with a candidate
and with the stable version, and keep the comparison as an evaluation of the candidate.

The window is read a page at a time (`prediction_log.pages`): memory holds one page of
requests, plus, for the rows that have feedback, their label and the two predictions (the
quality metrics — the ones the monitors compute — need all of them at once). Outputs are
compared on every row: agreement and mean/max absolute difference for a regressor,
agreement and the label flip rate for a classifier. Where feedback exists, each side's
quality is measured on the same labelled rows, and the verdict says whether the candidate
is no worse than the stable version on the chosen metric within a margin (the same rule
as a rollout's `max_accuracy_drop`: relative for error metrics, in the metric's units for
scores). Without enough labelled rows there is no verdict, and a plan that requires a
passing replay refuses the candidate.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from loopml.deployments.service import DeploymentService
from loopml.errors import ValidationError
from loopml.governance import append_event, require
from loopml.monitoring.definition import human_duration, parse_duration
from loopml.monitoring.performance import normalise, performance
from loopml.prediction_log.pages import page_frame
from loopml.registry import RegistryService
from loopml.registry.evaluation import REPLAY, stored_replays
from loopml.registry.packaging import LoadedModel
from loopml.registry.records import ModelVersion
from loopml.rollouts.plan import HIGHER_IS_BETTER, LOWER_IS_BETTER, METRICS
from loopml.store import Stores, new_id
from loopml.store.schema import model_evaluations

INPUT = "in_"
PAGE_ROWS = 5_000
Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class ReplayOptions:
    """How the verdict is reached: `metric` (default rmse / accuracy), `max_drop` (the
    margin, as a rollout plan's `max_accuracy_drop`), `min_labelled` rows for a verdict,
    `tolerance` (two regression outputs agree when they differ by at most this fraction of
    the stable's output: 0.01 is 1 %)."""

    metric: str | None = None
    max_drop: float = 0.05
    min_labelled: int = 30
    tolerance: float = 0.01
    page_rows: int = PAGE_ROWS

    def __post_init__(self) -> None:
        if self.metric is not None and self.metric not in METRICS:
            raise ValidationError(
                f"metric must be one of {', '.join(METRICS)}, got {self.metric!r}"
            )
        for name in ("max_drop", "tolerance"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ValidationError(f"{name} must be a number ≥ 0, got {value!r}")
        for name, low in (("min_labelled", 1), ("page_rows", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValidationError(f"{name} must be a whole number ≥ {low}, got {value!r}")


class _Tally:
    """Output comparison accumulated page by page."""

    def __init__(self) -> None:
        self.rows = 0
        self.agree = 0
        self.abs_sum = 0.0
        self.abs_max = 0.0
        self.logged_rows = 0  # rows the stable version answered when they were served
        self.logged_same = 0  # ... for which the replayed stable output equals the logged one


class ReplayService:
    """Run replays and read the stored ones."""

    def __init__(
        self, stores: Stores, registry: RegistryService, deployments: DeploymentService
    ) -> None:
        self.stores = stores
        self.registry = registry
        self.deployments = deployments

    def run(
        self,
        candidate: str | ModelVersion,
        deployment: str,
        *,
        since: float,
        until: float,
        stable: str | ModelVersion | None = None,
        options: ReplayOptions | None = None,
        store: bool = True,
    ) -> dict[str, Any]:
        """Replay [since, until) of `deployment`'s log with `candidate` and the stable
        version (default: the deployment's main route); the report, stored unless told."""
        actor = self.stores.actor
        require(actor, "write" if store else "read", "replay logged traffic")
        opts = options or ReplayOptions()
        _check_window(since, until)
        current = self.deployments.get(deployment)
        new = self.registry.get_version(candidate)
        old = (
            self.registry.get_version(stable)
            if stable is not None
            else self._stable(current.routes, current.name)
        )
        if new.id == old.id:
            raise ValidationError(
                f"{new.uri} is the stable version of {deployment!r}: replay a different "
                "candidate, or name the version to compare with (--stable)"
            )
        started = time.time()
        new_model, old_model = self.registry.load(new), self.registry.load(old)
        tally = _Tally()
        labelled: list[pd.DataFrame] = []
        pages = 0
        token: str | None = None
        task: Task | None = None
        while True:
            page = page_frame(
                self.stores,
                deployment,
                since=since,
                until=until,
                include_shadow=False,
                labelled=False,
                with_labels=True,
                max_rows=opts.page_rows,
                page_token=token,
            )
            token = page.next_page_token
            if len(page.frame):
                pages += 1
                task = task or _task(new_model, old_model, page.frame)
                labelled.append(
                    _score_page(page.frame, new_model, old_model, new, old, task, opts, tally)
                )
            if token is None:
                break
        report: dict[str, Any] = {
            "kind": REPLAY,
            "deployment": deployment,
            "window": {"since": since, "until": until},
            "candidate": new.uri,
            "stable": old.uri,
            "task": task,
            "rows": tally.rows,
            "pages": pages,
            "outputs": _outputs(tally, task, opts),
            "stable_reproduced": None
            if not tally.logged_rows
            else tally.logged_same / tally.logged_rows,
            "seconds": round(time.time() - started, 3),
        }
        if tally.rows == 0:
            report["quality"] = None
            report["verdict"] = _verdict(
                None, None, 0, opts, None, "the window has no logged requests"
            )
        else:
            assert task is not None
            report.update(_quality(labelled, task, new_model, opts))
        if store:
            self._store(new, report)
        return report

    def latest(
        self, candidate: str | ModelVersion, deployment: str | None = None
    ) -> list[dict[str, Any]]:
        """Stored replays of `candidate` (on `deployment` when given), newest first."""
        require(self.stores.actor, "read", "read replays")
        version = self.registry.get_version(candidate)
        return stored_replays(self.stores.engine, version.id, deployment)

    def _stable(self, routes: list[Any], name: str) -> ModelVersion:
        if not routes:
            raise ValidationError(
                f"deployment {name!r} has no route to compare with; pass --stable"
            )
        main = max(routes, key=lambda r: r.weight)
        return self.registry.get_version(f"model:{main.model}/{main.version}")

    def _store(self, version: ModelVersion, report: dict[str, Any]) -> None:
        with self.stores.engine.begin() as conn:
            evaluation = new_id("ev")
            conn.execute(
                model_evaluations.insert().values(
                    id=evaluation,
                    model_version_id=version.id,
                    dataset_version_id=None,
                    kind=REPLAY,
                    result=report,
                    created_by=self.stores.actor.name,
                    created_at=time.time(),
                )
            )
            verdict = report["verdict"]
            append_event(
                conn,
                self.stores.actor,
                "model.replay",
                version.uri,
                {
                    "evaluation": evaluation,
                    "deployment": report["deployment"],
                    "stable": report["stable"],
                    "window": report["window"],
                    "rows": report["rows"],
                    "passed": verdict["passed"],
                    "reason": verdict["reason"],
                },
            )
        report["evaluation_id"] = evaluation


def _check_window(since: Any, until: Any) -> None:
    for name, bound in (("since", since), ("until", until)):
        if (
            isinstance(bound, bool)
            or not isinstance(bound, int | float)
            or not math.isfinite(bound)
        ):
            raise ValidationError(f"{name} must be epoch seconds, got {bound!r}")
    if until <= since:
        raise ValidationError(f"the window is empty: until ({until}) must be after since ({since})")


def _task(new: LoadedModel, old: LoadedModel, frame: pd.DataFrame) -> Task:
    """Classification for probabilistic models, or when the logged answers are not numbers
    (labels such as "spam"); regression otherwise."""
    if new.has_proba or old.has_proba:
        return "classification"
    numeric = pd.to_numeric(frame["prediction"], errors="coerce").notna().all()
    return "regression" if numeric else "classification"


def _inputs(frame: pd.DataFrame, model: LoadedModel, uri: str) -> pd.DataFrame:
    columns = {c: c[len(INPUT) :] for c in frame.columns if c.startswith(INPUT)}
    inputs = frame[list(columns)].rename(columns=columns)
    if model.signature is not None:
        missing = [n for n in model.signature.input_names if n not in inputs.columns]
        if missing:
            raise ValidationError(
                f"the logged requests have no input columns {missing} that {uri} needs: the "
                "log cannot replay a version trained on other features"
            )
        inputs = inputs[list(model.signature.input_names)]
    return inputs


def _score_page(
    frame: pd.DataFrame,
    new_model: LoadedModel,
    old_model: LoadedModel,
    new: ModelVersion,
    old: ModelVersion,
    task: Task,
    opts: ReplayOptions,
    tally: _Tally,
) -> pd.DataFrame:
    """Compare one page's outputs; return its labelled rows (label, both predictions)."""
    new_pred, new_proba = new_model.predict_both(_inputs(frame, new_model, new.uri))
    old_pred, _ = old_model.predict_both(_inputs(frame, old_model, old.uri))
    new_pred, old_pred = np.asarray(new_pred), np.asarray(old_pred)
    tally.rows += len(frame)
    if task == "regression":
        diff = np.abs(new_pred.astype(float) - old_pred.astype(float))
        allowed = opts.tolerance * np.abs(old_pred.astype(float))
        tally.agree += int((diff <= np.maximum(allowed, 1e-12)).sum())
        tally.abs_sum += float(diff.sum())
        tally.abs_max = max(tally.abs_max, float(diff.max(initial=0.0)))
    else:
        tally.agree += sum(
            normalise(a) == normalise(b) for a, b in zip(new_pred, old_pred, strict=True)
        )
    served = (frame["model"] == old.uri).to_numpy()
    if served.any():
        logged = [normalise(v) for v in frame["prediction"][served]]
        replayed = [normalise(v) for v in old_pred[served]]
        tally.logged_rows += int(served.sum())
        tally.logged_same += sum(_same(a, b, task) for a, b in zip(logged, replayed, strict=True))
    has_label = frame["label"].notna().to_numpy()
    kept = pd.DataFrame(
        {
            "label": frame["label"][has_label].to_numpy(),
            "candidate": new_pred[has_label],
            "stable": old_pred[has_label],
        }
    )
    if new_proba is not None:
        for i, column in enumerate(np.asarray(new_proba)[has_label].T):
            kept[f"proba_{i}"] = column
    return kept


def _same(a: Any, b: Any, task: Task) -> bool:
    if task == "regression" and isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-6)
    return bool(a == b)


def _outputs(tally: _Tally, task: Task | None, opts: ReplayOptions) -> dict[str, Any]:
    if tally.rows == 0:
        return {"agreement_rate": None}
    agreement = tally.agree / tally.rows
    if task == "regression":
        return {
            "agreement_rate": agreement,
            "tolerance": opts.tolerance,
            "mean_abs_diff": tally.abs_sum / tally.rows,
            "max_abs_diff": tally.abs_max,
        }
    return {"agreement_rate": agreement, "flip_rate": 1.0 - agreement}


def _quality(
    labelled: list[pd.DataFrame], task: Task, new_model: LoadedModel, opts: ReplayOptions
) -> dict[str, Any]:
    rows = pd.concat(labelled, ignore_index=True) if labelled else pd.DataFrame()
    count = len(rows)
    metric = opts.metric or ("rmse" if task == "regression" else "accuracy")
    if count == 0:
        return {
            "quality": {"labelled": 0, "candidate": None, "stable": None},
            "verdict": _verdict(metric, None, 0, opts, None, "no feedback in the window yet"),
        }
    classes = getattr(new_model.raw, "classes_", None)
    labels = None if classes is None else list(classes)
    proba = [c for c in rows.columns if c.startswith("proba_")]
    sides: dict[str, dict[str, Any]] = {}
    for side in ("candidate", "stable"):
        frame = rows[["label"]].assign(prediction=rows[side])
        if side == "candidate" and proba:
            frame = pd.concat([frame, rows[proba]], axis=1)
        result = performance(
            frame, task=task, labels=labels if side == "candidate" and proba else None
        )
        sides[side] = {k: v for k, v in result.metrics.items() if v is not None}
    quality = {"labelled": count, "metric": metric, **sides}
    return {"quality": quality, "verdict": _verdict(metric, sides, count, opts, task, None)}


def _verdict(
    metric: str | None,
    sides: dict[str, dict[str, Any]] | None,
    labelled: int,
    opts: ReplayOptions,
    task: Task | None,
    reason: str | None,
) -> dict[str, Any]:
    base = {
        "metric": metric,
        "max_drop": opts.max_drop,
        "labelled": labelled,
        "min_labelled": opts.min_labelled,
    }
    if reason is not None or sides is None or metric is None:
        return {**base, "passed": None, "reason": reason or "no quality to compare"}
    if labelled < opts.min_labelled:
        return {
            **base,
            "passed": None,
            "reason": f"only {labelled} labelled rows (at least {opts.min_labelled} judge quality)",
        }
    new, old = sides["candidate"].get(metric), sides["stable"].get(metric)
    if new is None or old is None:
        return {**base, "passed": None, "reason": f"{metric} is not defined for this {task} window"}
    if metric in LOWER_IS_BETTER:
        limit = old * (1.0 + opts.max_drop)
        passed = new <= limit
        rule = f"{metric} {new:.6g} vs stable {old:.6g} (at most {limit:.6g})"
    else:
        assert metric in HIGHER_IS_BETTER
        limit = old - opts.max_drop
        passed = new >= limit
        rule = f"{metric} {new:.6g} vs stable {old:.6g} (at least {limit:.6g})"
    return {
        **base,
        "passed": bool(passed),
        "candidate": new,
        "stable": old,
        "limit": limit,
        "reason": ("no worse than stable: " if passed else "worse than stable: ") + rule,
    }


def parse_window(text: str, now: float | None = None) -> tuple[float, float]:
    """`7d` (the last seven days up to now), or `SINCE..UNTIL` with epoch seconds or ISO
    dates (`2026-12-01..2026-12-08`, UTC unless they say otherwise)."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(
            "a window is a duration such as 7d, or SINCE..UNTIL, e.g. 2026-12-01..2026-12-08"
        )
    end = time.time() if now is None else float(now)
    if ".." not in text:
        return end - parse_duration(text, "window"), end
    first, _, second = text.partition("..")
    since, until = _moment(first, "window start"), _moment(second, "window end")
    _check_window(since, until)
    return since, until


def _moment(text: str, what: str) -> float:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"{what} {text!r} is not a time: write epoch seconds or an ISO date such as 2026-12-01"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def replay_refusal(
    replays: list[dict[str, Any]], stable: str, max_age_s: float, now: float
) -> str | None:
    """Why a rollout of a candidate with these stored `replays` (newest first, on the
    deployment) against `stable` is refused, or None when the newest fitting one passed."""
    fitting = [
        r
        for r in replays
        if r.get("stable") == stable and now - float(r["created_at"]) <= max_age_s
    ]
    if not fitting:
        return f"it has no replay against {stable} from the last {human_duration(max_age_s)}"
    newest = fitting[0]
    verdict = newest.get("verdict") or {}
    if verdict.get("passed") is True:
        return None
    return (
        f"its latest replay ({newest.get('evaluation_id')}) did not pass: {verdict.get('reason')}"
    )
