"""Runs: params, metrics, tags, artifacts, inputs, statuses and validation."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from loopml import ConflictError, NotFoundError, ValidationError
from loopml.sdk import Client


def test_run_records_params_metrics_tags(any_client: Client) -> None:
    with any_client.start_run("exp", "first", params={"alpha": 0.5}, tags={"team": "ml"}) as run:
        run.log_param("model", "ridge")
        for step in range(5):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metrics({"rmse": 2.5, "r2": 0.75})
        run.set_tag("stage", "dev")
    record = any_client.get_run(run.id)
    assert record.status == "FINISHED"
    assert record.params == {"alpha": "0.5", "model": "ridge"}
    assert record.tags == {"team": "ml", "stage": "dev"}
    assert record.metrics == {"loss": 0.2, "rmse": 2.5, "r2": 0.75}
    history = any_client.metric_history(run.id, "loss")
    assert [p.step for p in history] == [0, 1, 2, 3, 4]
    assert [p.value for p in history] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert record.end_time is not None and record.end_time >= record.start_time


def test_steps_default_to_the_next_one_per_key(client: Client) -> None:
    with client.start_run("exp") as run:
        for value in (3.0, 2.0, 1.0):
            run.log_metric("loss", value)
        run.log_metric("acc", 0.5)
    assert [p.step for p in client.metric_history(run.id, "loss")] == [0, 1, 2]
    assert [p.step for p in client.metric_history(run.id, "acc")] == [0]


def test_latest_metric_is_the_highest_step_not_the_last_logged(client: Client) -> None:
    with client.start_run("exp") as run:
        run.log_metric("loss", 0.1, step=10)
        run.log_metric("loss", 0.9, step=2)
    assert client.get_run(run.id).metrics["loss"] == 0.1


def test_exception_marks_run_failed_with_traceback(client: Client) -> None:
    with pytest.raises(RuntimeError), client.start_run("exp") as run:
        run.log_metric("loss", 1.0)
        raise RuntimeError("diverged at epoch 3")
    record = client.get_run(run.id)
    assert record.status == "FAILED"
    assert record.error is not None and "diverged at epoch 3" in record.error
    assert "Traceback" in record.error
    assert record.metrics == {"loss": 1.0}


def test_keyboard_interrupt_marks_run_killed(client: Client) -> None:
    with pytest.raises(KeyboardInterrupt), client.start_run("exp") as run:
        raise KeyboardInterrupt
    assert client.get_run(run.id).status == "KILLED"


def test_nested_runs_link_to_parent(client: Client) -> None:
    with client.start_run("sweep") as parent:
        with client.start_run("sweep", nested=True) as child:
            child.log_metric("score", 1.0)
        with pytest.raises(ValidationError, match="nested=True"):
            client.start_run("sweep")
    assert client.get_run(child.id).parent_id == parent.id
    children = client.search_runs("sweep", filter=f"parent_id = '{parent.id}'")
    assert [r.id for r in children] == [child.id]


def test_params_are_immutable(client: Client) -> None:
    with client.start_run("exp") as run:
        run.log_param("lr", 0.1)
        run.log_param("lr", 0.1)  # same value again is fine
        with pytest.raises(ConflictError, match="lr"):
            run.log_param("lr", 0.2)
    assert client.get_run(run.id).params == {"lr": "0.1"}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("loss", math.nan, "finite"),
        ("loss", math.inf, "finite"),
        ("loss", -math.inf, "finite"),
        ("loss", "0.5", "real number"),
        ("loss", True, "real number"),
        ("loss", None, "real number"),
        ("", 1.0, "empty"),
        ("x" * 251, 1.0, "250"),
        ("bad\tkey", 1.0, "letters"),
        (42, 1.0, "string"),
    ],
)
def test_bad_metric_is_refused_and_nothing_is_written(
    client: Client, key: object, value: object, message: str
) -> None:
    with client.start_run("exp") as run:
        with pytest.raises(ValidationError, match=message):
            run.log_metric(key, value)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            run.log_metrics({"ok": 1.0, "bad": math.nan})
    assert client.get_run(run.id).metrics == {}


def test_bad_step_and_params_are_refused(client: Client) -> None:
    with client.start_run("exp") as run:
        with pytest.raises(ValidationError, match="step"):
            run.log_metric("loss", 1.0, step=-1)
        with pytest.raises(ValidationError, match="6000"):
            run.log_param("long", "x" * 6001)
        with pytest.raises(ValidationError, match=r"json\.dumps"):
            run.log_param("obj", {"a": 1})
        with pytest.raises(ValidationError):
            run.log_params({"fine": 1, "bad key!": 2})
    assert client.get_run(run.id).params == {}


def test_logging_after_end_is_refused(client: Client) -> None:
    with client.start_run("exp") as run:
        pass
    with pytest.raises(ValidationError, match="ended"):
        run.log_metric("loss", 1.0)


def test_bad_names_and_unknown_objects(client: Client) -> None:
    with pytest.raises(ValidationError, match="experiment name"):
        client.start_run("no spaces allowed")
    with pytest.raises(NotFoundError, match="no run"):
        client.get_run("run-00000000")
    with pytest.raises(NotFoundError, match="experiment"):
        client.search_runs("missing-experiment")
    with pytest.raises(NotFoundError):
        client.start_run("exp", inputs=["nosuchdata@1"])
    failed = client.search_runs("exp")
    assert [r.status for r in failed] == ["FAILED"]  # the run that got a bad input


def test_artifacts_files_folders_text_json(client: Client, tmp_path: Path) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("hello")
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("x\n1\n")
    (folder / "sub" / "b.csv").write_text("y\n2\n")
    with client.start_run("exp") as run:
        assert run.log_artifact(file) == ["notes.txt"]
        assert run.log_artifact(folder) == ["plots/a.csv", "plots/sub/b.csv"]
        run.log_text("some text", "report/summary.md")
        run.log_json({"b": 2, "a": [1, 2]}, "config.json")
        with pytest.raises(ValidationError, match="JSON"):
            run.log_json({"x": math.nan}, "bad.json")
        with pytest.raises(ValidationError, match="\\.\\."):
            run.log_text("x", "../escape.txt")
        with pytest.raises(ValidationError, match="no such file"):
            run.log_artifact(tmp_path / "missing.bin")
    paths = [a["path"] for a in client.tracking.list_artifacts(run.id)]
    assert "bad.json" not in paths
    assert {
        "notes.txt",
        "plots/a.csv",
        "plots/sub/b.csv",
        "report/summary.md",
        "config.json",
    } <= set(paths)
    assert client.read_artifact(run.id, "plots/sub/b.csv") == b"y\n2\n"
    assert json.loads(client.read_artifact(run.id, "config.json")) == {"a": [1, 2], "b": 2}
    with pytest.raises(NotFoundError, match="no artifact"):
        client.read_artifact(run.id, "nope.txt")


def test_figure_artifact(client: Client) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with client.start_run("exp") as run:
        run.log_figure(fig, "curve.png")
    plt.close(fig)
    assert client.read_artifact(run.id, "curve.png").startswith(b"\x89PNG")


def test_inputs_link_dataset_versions(any_client: Client) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3], "y": [0.5, 0.1, 0.2]})
    version = any_client.log_dataset("train", frame)
    with any_client.start_run("exp", inputs=[version]) as run:
        run.log_input("train@1", role="validation")
    record = any_client.get_run(run.id)
    assert record.inputs == [{"dataset": "dataset:train@1", "id": version.id, "role": "validation"}]


def test_environment_and_code_are_captured(client: Client) -> None:
    with client.start_run("exp") as run:
        pass
    record = client.get_run(run.id)
    assert record.environment is not None
    assert record.environment["python"].count(".") == 2
    requirements = client.read_artifact(run.id, "environment/requirements.txt").decode()
    assert "loopml==" in requirements.lower()


@pytest.mark.parametrize(
    "bad",
    [
        [("loss", 1.0, 0), (["not", "hashable"], 1.0, 1)],
        [("loss", 1.0, 0), ("loss", float("nan"), 1)],
        [("loss", 1.0, 0), ("loss", 1.0, -1)],
        [("loss", 1.0, 0), ("bad key!", 1.0, 1)],
    ],
)
def test_a_batch_with_one_bad_point_is_refused_whole(
    client: Client, bad: list[tuple[Any, ...]]
) -> None:
    with client.start_run("batch-checks") as run:
        with pytest.raises(ValidationError):
            run.log_batch(metrics=bad)  # type: ignore[arg-type]
        run_id = run.id
    assert client.tracking.metric_history(run_id, "loss") == []
