"""Hyperparameter sweeps: one child run per trial, run in parallel, ranked by a metric.

`sweep(train, grid, metric=...)` is called inside a `@pipeline` function. It adds one node
per trial (each a cached step with its own child run, so a re-run only trains new trials)
and a `rank_trials` node that orders the trials. A trial's output is read for `metric` as
a mapping key, an attribute, or a run's logged metric. Grids are explicit; `random_search`
and `optuna_search` produce trial lists from a search space:

- a list is a choice among its values;
- `(low, high)` of ints is an integer range (both ends included), of floats a uniform range;
- `(low, high, "log")` is a log-uniform float range.
"""

from __future__ import annotations

import itertools
import math
import random
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from loopml.errors import ValidationError
from loopml.pipelines.graph import StepOutput, current_graph
from loopml.pipelines.steps import Step, step
from loopml.tracking import RunRecord

Trials = list[dict[str, Any]]


def grid_trials(grid: Mapping[str, Sequence[Any]]) -> Trials:
    """Every combination of the grid's values, in a stable order."""
    if not isinstance(grid, Mapping) or not grid:
        raise ValidationError(f"a grid is a non-empty dict of name → list of values, got {grid!r}")
    for name, values in grid.items():
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise ValidationError(
                f"grid values of {name!r} must be a non-empty list, got {values!r}"
            )
    names = list(grid)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values())]


def _dimension(name: str, spec: Any) -> tuple[str, Any]:
    if isinstance(spec, list) and spec:
        return "choice", spec
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        low, high = spec[0], spec[1]
        log = len(spec) == 3
        if log and spec[2] != "log":
            raise ValidationError(f"{name}: a 3-tuple range ends with 'log', got {spec[2]!r}")
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
        if numbers and low < high and (not log or low > 0):
            if isinstance(low, int) and isinstance(high, int) and not log:
                return "int", (low, high)
            return ("log" if log else "float"), (float(low), float(high))
    raise ValidationError(
        f"search space entry {name!r} = {spec!r} is not a list of choices, a (low, high) range "
        "with low < high, or a (low, high, 'log') range with 0 < low < high"
    )


def _space(space: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    if not isinstance(space, Mapping) or not space:
        raise ValidationError(f"a search space is a non-empty dict, got {space!r}")
    return {name: _dimension(name, spec) for name, spec in space.items()}


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValidationError(f"the number of trials must be a positive integer, got {n!r}")


def random_search(space: Mapping[str, Any], n: int, seed: int = 0) -> Trials:
    """`n` trials drawn from `space`; the same seed gives the same trials (and cache hits)."""
    dims = _space(space)
    _check_n(n)
    rng = random.Random(seed)
    trials = []
    for _ in range(n):
        trial: dict[str, Any] = {}
        for name, (kind, spec) in dims.items():
            if kind == "choice":
                trial[name] = spec[rng.randrange(len(spec))]
            elif kind == "int":
                trial[name] = rng.randint(*spec)
            elif kind == "float":
                trial[name] = rng.uniform(*spec)
            else:
                trial[name] = math.exp(rng.uniform(math.log(spec[0]), math.log(spec[1])))
        trials.append(trial)
    return trials


def optuna_search(space: Mapping[str, Any], n: int, seed: int = 0) -> Trials:
    """`n` space-filling trials from Optuna's quasi-Monte-Carlo (Sobol) sampler.

    A sweep's trials are fixed before any runs, which is where QMC fits; adaptive samplers
    (TPE) need results between trials. Needs `pip install 'loopml[optuna]'`.
    """
    try:
        import optuna
    except ImportError as exc:
        raise ValidationError("optuna_search needs Optuna: pip install 'loopml[optuna]'") from exc
    dims = _space(space)
    _check_n(n)
    distributions: dict[str, Any] = {}
    for name, (kind, spec) in dims.items():
        if kind == "choice":
            distributions[name] = optuna.distributions.CategoricalDistribution(spec)
        elif kind == "int":
            distributions[name] = optuna.distributions.IntDistribution(*spec)
        else:
            distributions[name] = optuna.distributions.FloatDistribution(
                spec[0], spec[1], log=kind == "log"
            )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # QMCSampler is marked experimental
        sampler = optuna.samplers.QMCSampler(seed=seed, scramble=True)
        study = optuna.create_study(sampler=sampler)
        trials = []
        for _ in range(n):
            trial = study.ask(distributions)
            trials.append({name: trial.params[name] for name in dims})
    return trials


def metric_of(output: Any, metric: str) -> float:
    """`metric` read from a trial's output (mapping key, attribute, or run metric)."""
    if isinstance(output, RunRecord):
        value = output.metrics.get(metric)
    elif isinstance(output, Mapping):
        value = output.get(metric)
    else:
        value = getattr(output, metric, None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(
            f"a sweep ranks trials by {metric!r}, but a trial returned {type(output).__name__} "
            f"without a number under that name; return e.g. {{{metric!r}: value, ...}}"
        )
    return float(value)


@step(name="rank_trials", cache=True)
def rank_trials(trials: list[dict[str, Any]], metric: str, mode: str) -> list[dict[str, Any]]:
    """Trials best first: each {"rank", "params", "value", "output"}."""
    scored = [
        {"params": t["params"], "value": metric_of(t["output"], metric), "output": t["output"]}
        for t in trials
    ]
    scored.sort(key=lambda t: t["value"], reverse=mode == "max")
    return [{"rank": i + 1, **t} for i, t in enumerate(scored)]


def sweep(
    train: Step,
    trials: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]],
    *,
    metric: str,
    mode: str = "min",
    **fixed: Any,
) -> StepOutput:
    """Inside a pipeline: one `train(**trial, **fixed)` node per trial, in parallel, and
    their outputs ranked by `metric` (`mode` "min" or "max"). `trials` is a grid (dict of
    lists) or a list of param dicts (`random_search`, `optuna_search`)."""
    if current_graph() is None:
        raise ValidationError("sweep(...) is called inside a @pipeline function")
    if not isinstance(train, Step):
        raise ValidationError(f"sweep needs a @step to train with, got {type(train).__name__}")
    if mode not in ("min", "max"):
        raise ValidationError(f"mode must be 'min' or 'max', got {mode!r}")
    if not isinstance(metric, str) or not metric:
        raise ValidationError("metric must name the value to rank trials by, e.g. 'rmse'")
    if isinstance(trials, Mapping):
        plan = grid_trials(trials)
    elif isinstance(trials, Sequence) and trials and all(isinstance(t, Mapping) for t in trials):
        plan = [dict(t) for t in trials]
    else:
        raise ValidationError(
            "trials must be a grid (dict of lists) or a non-empty list of param dicts"
        )
    clash = sorted({k for t in plan for k in t} & set(fixed))
    if clash:
        raise ValidationError(f"{clash} are both swept and fixed; keep each name in one place")
    outputs = [{"params": t, "output": train(**t, **fixed)} for t in plan]
    result: StepOutput = rank_trials(outputs, metric, mode)
    return result
