"""Sweeps: one child run per trial, ranked; grid, random and Optuna trial lists."""

from __future__ import annotations

import pytest

from loopml.errors import ValidationError
from loopml.pipelines import optuna_search, pipeline, random_search, sweep
from loopml.pipelines.sweep import grid_trials, metric_of
from loopml.sdk import Client
from tests.pipelines import sample_pipelines as sp


@pipeline(name="grid-sweep")
def grid_sweep(offset: float = 0.0) -> object:
    return sweep(
        sp.train, {"alpha": [0.01, 0.1, 1.0], "depth": [2, 3]}, metric="loss", offset=offset
    )


def test_a_grid_sweep_runs_one_child_run_per_trial_and_ranks_them(client: Client) -> None:
    result = grid_sweep.run(client)

    ranked = result.output
    assert [t["rank"] for t in ranked] == [1, 2, 3, 4, 5, 6]
    assert ranked[0]["params"] == {"alpha": 0.1, "depth": 3}
    assert ranked[0]["value"] == 0.0
    trial_runs = [s for s in result.steps.values() if s.step == "train"]
    assert len(trial_runs) == 6
    record = client.get_run(trial_runs[0].run_id or "")
    assert record.parent_id == result.run_id
    assert "loss" in record.metrics

    again = grid_sweep.run(client)
    assert len(again.cached) == 7  # six trials and the ranking


def test_random_and_optuna_trials_are_reproducible_and_in_range() -> None:
    space = {"alpha": (0.001, 1.0, "log"), "depth": (1, 5), "kind": ["a", "b"], "w": (0.0, 1.0)}
    trials = random_search(space, 8, seed=3)
    assert trials == random_search(space, 8, seed=3)
    assert trials != random_search(space, 8, seed=4)
    for trial in trials:
        assert 0.001 <= trial["alpha"] <= 1.0 and trial["depth"] in range(1, 6)
        assert trial["kind"] in ("a", "b") and 0.0 <= trial["w"] <= 1.0
    pytest.importorskip("optuna")
    suggested = optuna_search(space, 4, seed=1)
    assert suggested == optuna_search(space, 4, seed=1)
    assert len(suggested) == 4 and all(1 <= t["depth"] <= 5 for t in suggested)


def test_a_random_sweep_ranks_by_max_when_asked(client: Client) -> None:
    @pipeline(name="random-sweep")
    def random_sweep() -> object:
        trials = random_search({"alpha": (0.0, 1.0), "depth": [1, 2, 3]}, 4, seed=0)
        return sweep(sp.train, trials, metric="loss", mode="max")

    ranked = random_sweep.run(client).output
    values = [t["value"] for t in ranked]
    assert values == sorted(values, reverse=True)


def test_bad_sweeps_say_what_to_fix() -> None:
    with pytest.raises(ValidationError, match="inside a @pipeline"):
        sweep(sp.train, {"alpha": [1]}, metric="loss")
    with pytest.raises(ValidationError, match="non-empty list"):
        grid_trials({"alpha": []})
    with pytest.raises(ValidationError, match="not a list of choices"):
        random_search({"alpha": (1.0, 0.0)}, 2)
    with pytest.raises(ValidationError, match="positive integer"):
        random_search({"alpha": [1]}, 0)
    with pytest.raises(ValidationError, match="without a number"):
        metric_of({"acc": 1.0}, "loss")

    @pipeline(name="clash")
    def clash() -> object:
        return sweep(sp.train, {"alpha": [1.0], "depth": [1]}, metric="loss", depth=3)

    with pytest.raises(ValidationError, match="both swept and fixed"):
        clash.build()
