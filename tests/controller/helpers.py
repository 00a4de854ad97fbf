"""Pipelines and a rollout driver for the controller's tests, launched by import path.

The pipelines are plain functions that write what they did to files, so a test (or a test
in another process) can count launches and completed stages.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from loopml.controller import RolloutChange
from loopml.pipelines import pipeline, step
from loopml.sdk import Client

WAIT_S = 60.0


def append(path: str | Path, record: Any) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")
        out.flush()
        os.fsync(out.fileno())


def lines(path: str | Path) -> list[Any]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def wait_for(path: Path, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout} s")
        time.sleep(0.05)


def record(log: str, trigger: dict[str, Any], client: Client, **params: Any) -> dict[str, Any]:
    """Log the call; return what a training pipeline would (optionally a candidate)."""
    append(log, {"trigger": trigger, "params": params, "workspace": str(client.settings.root)})
    if "model_version" in params:
        return {"model_version": params["model_version"], "passed": params.get("passed", True)}
    return {"rows": 3, "rmse": 1.5}


def no_trigger_param(log: str) -> str:
    """A function that does not declare `trigger`: it is called without it."""
    append(log, {"called": True})
    return "ok"


def broken(log: str, trigger: dict[str, Any]) -> None:
    append(log, {"event": trigger["event"]})
    raise RuntimeError("the training data has no rows")


def needs_source(log: str, trigger: dict[str, Any]) -> dict[str, Any]:
    """Fails while `<log>.down` exists (a data source that is out), then records the call."""
    if Path(log + ".down").exists():
        raise RuntimeError("the feature source is down")
    append(log, {"trigger": trigger})
    return {"rows": 3}


def two_stage(workdir: str, trigger: dict[str, Any]) -> dict[str, Any]:
    """Stage one records its completion (keyed by the event) and is skipped on a relaunch;
    stage two waits for `release` before finishing, so a test can kill it mid-pipeline."""
    folder = Path(workdir)
    done = folder / f"{trigger['event']}.stage1"
    if not done.exists():
        append(folder / "stage1.log", trigger["event"])
        done.write_text("done")
    (folder / "waiting").write_text(str(os.getpid()))
    wait_for(folder / "release")
    append(folder / "stage2.log", trigger["event"])
    return {"model_version": "model:bikes/2", "passed": True}


class FileRolloutDriver:
    """A small real `RolloutDriver`: rollouts kept in a JSON file, one step per advance.

    `block_after_start` names a file the driver waits for right after recording a start,
    so a test can kill the controller between the start and its record in the event.
    """

    def __init__(self, folder: str | Path, block_after_start: bool = False) -> None:
        self.folder = Path(folder)
        self.state = self.folder / "rollouts.json"
        self.block_after_start = block_after_start

    def _load(self) -> dict[str, Any]:
        return json.loads(self.state.read_text()) if self.state.exists() else {}

    def _save(self, data: dict[str, Any]) -> None:
        tmp = self.state.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.state)

    def ensure_started(
        self, deployment: str, candidate: str, plan: dict[str, Any], *, key: str
    ) -> dict[str, Any]:
        data = self._load()
        existing = data.get(deployment)
        if existing is not None and existing["key"] == key:
            return dict(existing)
        rollout = {
            "key": key,
            "candidate": candidate,
            "steps": list(plan.get("steps", [100])),
            "step": 0,
            "state": "running",
        }
        data[deployment] = rollout
        self._save(data)
        append(self.folder / "starts.log", {"deployment": deployment, "key": key})
        if self.block_after_start:
            (self.folder / "started").write_text("yes")
            wait_for(self.folder / "release")
        return dict(rollout)

    def active(self, now: float) -> list[str]:
        return sorted(d for d, r in self._load().items() if r["state"] == "running")

    def advance(self, deployment: str, now: float) -> RolloutChange:
        data = self._load()
        rollout = data[deployment]
        if rollout["state"] != "running":
            return RolloutChange(deployment, False, rollout["state"])
        rollout["step"] += 1
        if rollout["step"] >= len(rollout["steps"]) - 1:
            rollout["step"] = len(rollout["steps"]) - 1
            rollout["state"] = "promoted"
        self._save(data)
        weight = rollout["steps"][rollout["step"]]
        return RolloutChange(deployment, True, rollout["state"], {"weight": weight})


# ---------------------------------------------------------------------- real pipelines
@step
def prepare(workdir: str, dataset: str) -> dict[str, Any]:
    """The first step: its completion is cached, so a relaunch does not run it again."""
    append(Path(workdir) / "prepare.log", dataset)
    return {"dataset": dataset, "rows": 3}


@step
def fit(workdir: str, prepared: dict[str, Any]) -> dict[str, Any]:
    """The second step: waits for `release` when `block` exists, so a test can kill it."""
    folder = Path(workdir)
    if (folder / "block").exists():
        (folder / "waiting").write_text(str(os.getpid()))
        wait_for(folder / "release")
    append(folder / "fit.log", prepared["dataset"])
    return {"model_version": "model:bikes/3", "passed": True, "rows": prepared["rows"]}


@pipeline(name="retrain-bikes")
def retrain(workdir: str, trigger: dict[str, Any]) -> Any:
    return fit(workdir, prepare(workdir, trigger["dataset"]))


@step
def explode(workdir: str) -> None:
    raise ValueError("no rows to train on")


@pipeline(name="failing")
def failing(workdir: str) -> Any:
    return explode(workdir)
