"""The tracking contract: the same tests on the SDK in local mode, in remote mode over a
server on SQLite, and in remote mode over a server on PostgreSQL + the S3 server."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from sklearn.linear_model import Ridge

from loopml import ConflictError, NotFoundError, ValidationError
from loopml.registry import ModelVersion
from loopml.samples.bikeshare import bikeshare_features, load_bikeshare
from loopml.sdk import Client, RemoteClient
from loopml.tracking.environment import capture_code

AnyClient = Client | RemoteClient


def test_params_metrics_tags_and_history(tracking_client: AnyClient, experiment: str) -> None:
    client = tracking_client
    with client.start_run(experiment, "first", params={"alpha": 0.5}, tags={"team": "ml"}) as run:
        run.log_param("model", "ridge")
        for step in range(5):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metrics({"rmse": 2.5, "r2": 0.75})
        run.set_tag("stage", "dev")
    record = client.get_run(run.id)
    assert record.status == "FINISHED" and record.name == "first"
    assert record.experiment == experiment
    assert record.params == {"alpha": "0.5", "model": "ridge"}
    assert record.tags == {"team": "ml", "stage": "dev"}
    assert record.metrics == {"loss": 0.2, "rmse": 2.5, "r2": 0.75}
    history = client.metric_history(run.id, "loss")
    assert [p.step for p in history] == [0, 1, 2, 3, 4]
    assert [p.value for p in history] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert record.end_time is not None and record.end_time >= record.start_time
    assert len(client.metric_history(run.id, "loss", max_points=2)) == 2


def test_steps_default_and_the_latest_value_is_the_highest_step(
    tracking_client: AnyClient, experiment: str
) -> None:
    with tracking_client.start_run(experiment) as run:
        for value in (3.0, 2.0, 1.0):
            run.log_metric("loss", value)
        run.log_metric("acc", 0.5)
        run.log_metric("late", 0.1, step=10)
        run.log_metric("late", 0.9, step=2)
    assert [p.step for p in tracking_client.metric_history(run.id, "loss")] == [0, 1, 2]
    assert [p.step for p in tracking_client.metric_history(run.id, "acc")] == [0]
    assert tracking_client.get_run(run.id).metrics["late"] == 0.1


def test_many_points_arrive_exactly_once(tracking_client: AnyClient, experiment: str) -> None:
    """More points than one batch holds, logged one call at a time and in batches."""
    with tracking_client.start_run(experiment) as run:
        for step in range(12_000):
            run.log_metric("loss", step / 1000.0, step=step)
        run.log_batch(metrics=[("acc", i / 100, i) for i in range(2500)], params={"n": 3})
        run.flush()
        run.log_metric("after", 1.0)
    history = tracking_client.metric_history(run.id, "loss")
    assert [p.step for p in history] == list(range(12_000))
    assert history[-1].value == 11.999
    assert len(tracking_client.metric_history(run.id, "acc")) == 2500
    assert tracking_client.get_run(run.id).params == {"n": "3"}


def test_an_exception_fails_the_run_and_ctrl_c_kills_it(
    tracking_client: AnyClient, experiment: str
) -> None:
    with pytest.raises(RuntimeError), tracking_client.start_run(experiment) as run:
        run.log_metric("loss", 1.0)
        raise RuntimeError("diverged at epoch 3")
    record = tracking_client.get_run(run.id)
    assert record.status == "FAILED" and record.metrics == {"loss": 1.0}
    assert record.error is not None and "diverged at epoch 3" in record.error
    with pytest.raises(KeyboardInterrupt), tracking_client.start_run(experiment) as killed:
        raise KeyboardInterrupt
    assert tracking_client.get_run(killed.id).status == "KILLED"


def test_nested_runs_link_to_their_parent(tracking_client: AnyClient, experiment: str) -> None:
    with tracking_client.start_run(experiment) as parent:
        with tracking_client.start_run(experiment, nested=True) as child:
            child.log_metric("score", 1.0)
        with pytest.raises(ValidationError, match="nested=True"):
            tracking_client.start_run(experiment)
    assert tracking_client.get_run(child.id).parent_id == parent.id
    children = tracking_client.search_runs(experiment, filter=f"parent_id = '{parent.id}'")
    assert [r.id for r in children] == [child.id]


def test_params_are_immutable_and_bad_input_is_refused(
    tracking_client: AnyClient, experiment: str
) -> None:
    with tracking_client.start_run(experiment) as run:
        run.log_param("lr", 0.1)
        run.log_param("lr", 0.1)  # the same value again is fine
        with pytest.raises(ConflictError, match="lr"):
            run.log_param("lr", 0.2)
        with pytest.raises(ValidationError, match="finite"):
            run.log_metric("loss", math.nan)
        with pytest.raises(ValidationError, match="step"):
            run.log_metric("loss", 1.0, step=-1)
        with pytest.raises(ValidationError, match="6000"):
            run.log_param("long", "x" * 6001)
        with pytest.raises(ValidationError, match="may only use"):
            run.log_params({"fine": 1, "bad key!": 2})
        for batch in (
            [("loss", 1.0, 0), (["a", "list"], 1.0, 1)],  # not even hashable
            [("loss", 1.0, 0), ("loss", math.inf, 1)],
            [("loss", 1.0, 0), ("loss", 1.0, True)],
        ):
            with pytest.raises(ValidationError):
                run.log_batch(metrics=batch)  # type: ignore[arg-type]
    assert tracking_client.get_run(run.id).params == {"lr": "0.1"}
    assert tracking_client.get_run(run.id).metrics == {}
    with pytest.raises(ValidationError, match="ended"):
        run.log_metric("loss", 1.0)


def test_unknown_objects_and_bad_names(tracking_client: AnyClient, experiment: str) -> None:
    with pytest.raises(ValidationError, match="experiment name"):
        tracking_client.start_run("no spaces allowed")
    with pytest.raises(NotFoundError, match="no run"):
        tracking_client.get_run("run-00000000")
    with pytest.raises(NotFoundError, match="experiment"):
        tracking_client.search_runs("missing-" + experiment)
    with pytest.raises(NotFoundError):
        tracking_client.start_run(experiment, inputs=["nosuchdata@1"])
    assert [r.status for r in tracking_client.search_runs(experiment)] == ["FAILED"]


def test_search_filters_orders_and_pages(tracking_client: AnyClient, experiment: str) -> None:
    runs = [("gbm", 2.0), ("gbm", 4.0), ("ridge", 1.5), ("rf", 3.5)]
    for i, (model, rmse) in enumerate(runs):
        with tracking_client.start_run(
            experiment, f"{model}-{i}", params={"model": model}, tags={"team": "ab"[i % 2]}
        ) as run:
            run.log_metric("rmse", rmse)
    flt = "metrics.rmse < 3 and params.model = 'gbm'"
    assert [r.name for r in tracking_client.search_runs(experiment, filter=flt)] == ["gbm-0"]
    ordered = tracking_client.search_runs(experiment, order_by="metrics.rmse DESC")
    assert [r.name for r in ordered] == ["gbm-1", "rf-3", "gbm-0", "ridge-2"]
    pages, token = [], None
    while True:
        page = tracking_client.search_runs(
            experiment, order_by=["metrics.rmse"], max_results=3, page_token=token
        )
        pages.append([r.name for r in page])
        token = page.next_page_token
        if token is None:
            break
    assert pages == [["ridge-2", "gbm-0", "rf-3"], ["gbm-1"]]
    frame = tracking_client.search_runs(experiment).to_pandas()
    assert set(frame["params.model"]) == {"gbm", "ridge", "rf"}
    with pytest.raises(ValidationError, match="quoted string"):
        tracking_client.search_runs(experiment, filter="metrics.rmse <<< 3")
    with pytest.raises(ValidationError, match="page_token"):
        tracking_client.search_runs(experiment, page_token="not-a-token")
    names = {e["name"] for e in tracking_client.list_experiments()}
    assert experiment in names


def test_artifacts_files_folders_text_json(
    tracking_client: AnyClient, experiment: str, tmp_path: Path
) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("hello")
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("x\n1\n")
    (folder / "sub" / "b.csv").write_text("y\n2\n")
    with tracking_client.start_run(experiment) as run:
        assert run.log_artifact(file) == ["notes.txt"]
        assert run.log_artifact(folder) == ["plots/a.csv", "plots/sub/b.csv"]
        assert run.log_text("some text", "report/summary.md") == "report/summary.md"
        run.log_json({"b": 2, "a": [1, 2]}, "config.json")
        run.log_bytes(bytes(range(256)) * 4096, "model/weights.bin")
        with pytest.raises(ValidationError, match="JSON"):
            run.log_json({"x": math.nan}, "bad.json")
        with pytest.raises(ValidationError, match=r"\.\."):
            run.log_text("x", "../escape.txt")
        with pytest.raises(ValidationError, match="no such file"):
            run.log_artifact(tmp_path / "missing.bin")
    listed = {a["path"]: a for a in tracking_client.list_artifacts(run.id)}
    assert {"notes.txt", "plots/a.csv", "plots/sub/b.csv", "report/summary.md"} <= set(listed)
    assert "bad.json" not in listed
    assert listed["model/weights.bin"]["size"] == 256 * 4096
    assert tracking_client.read_artifact(run.id, "plots/sub/b.csv") == b"y\n2\n"
    assert json.loads(tracking_client.read_artifact(run.id, "config.json")) == {
        "a": [1, 2],
        "b": 2,
    }
    assert tracking_client.read_artifact(run.id, "model/weights.bin") == bytes(range(256)) * 4096
    with pytest.raises(NotFoundError, match="no artifact"):
        tracking_client.read_artifact(run.id, "nope.txt")


def test_the_run_record_round_trips(tracking_client: AnyClient, experiment: str) -> None:
    with tracking_client.start_run(experiment, tags={"k": "v"}) as run:
        run.log_metric("m", 1.5)
    record = tracking_client.get_run(run.id)
    assert record.uri == run.uri
    assert tracking_client.get_run(run.uri).id == run.id  # the run:… form is accepted too
    assert record.to_dict()["tags"] == {"k": "v"}
    assert record.created_by


def test_code_and_environment_are_recorded(tracking_client: AnyClient, experiment: str) -> None:
    """Remote runs record the client's git state and packages, as local runs do."""
    with tracking_client.start_run(experiment) as run:
        pass
    record = tracking_client.get_run(run.id)
    assert record.git_commit == capture_code(Path.cwd()).commit
    assert record.environment is not None
    assert record.environment["python"].count(".") == 2
    requirements = tracking_client.read_artifact(run.id, "environment/requirements.txt")
    assert b"loopml==" in requirements.lower()
    assert record.environment["packages_digest"] == next(
        a["digest"]
        for a in tracking_client.list_artifacts(run.id)
        if a["path"] == "environment/requirements.txt"
    )
    with tracking_client.start_run(experiment, capture_code=False) as bare:
        pass
    assert tracking_client.get_run(bare.id).environment is None


def test_a_model_is_packaged_here_and_registered(
    tracking_client: AnyClient, experiment: str
) -> None:
    """The bundled bike hours: a Ridge logged with its signature, training ranges and
    missing-value probe, then registered as version 1 from the run's artifact."""
    frame = load_bikeshare().head(800)
    features = bikeshare_features(frame)
    target = frame["bikers"].astype(float)
    name = "m-" + experiment
    with tracking_client.start_run(experiment) as run:
        model = Ridge().fit(features, target)
        r2 = float(model.score(features, target))
        run.log_metric("r2", r2)
        version = run.log_model(model, name=name, input_example=features, training_data=features)
    assert isinstance(version, ModelVersion)
    assert version.model == name and version.version == 1 and version.run_id == run.id
    assert version.metrics == {"r2": r2}  # the snapshot holds what was logged before
    inputs = {spec["name"]: spec for spec in (version.signature or {})["inputs"]}
    assert set(inputs) == set(features.columns)
    assert inputs["temp"]["minimum"] == features["temp"].min()
    assert inputs["temp"]["maximum"] == features["temp"].max()
    assert inputs["temp"]["model_takes_missing"] is False
    paths = {a["path"] for a in tracking_client.list_artifacts(run.id)}
    assert {"model/loopml-model.json", "model/model.joblib"} <= paths
    with tracking_client.start_run(experiment) as unnamed:
        with pytest.raises(ValidationError, match="needs a model name"):
            unnamed.log_model(model, register=True)
        assert unnamed.log_model(model)[0].startswith("model/")
