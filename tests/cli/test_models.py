"""`loopml models …` on models trained through the SDK on the bundled Bike Sharing data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from loopml.sdk import Client
from tests.cli.conftest import Train
from tests.cli.helpers import BikeTables, Invoke, field, table_rows, train_bikes, user_error


def test_list_models_then_versions(cli: Invoke, trained: Train, client: Client) -> None:
    trained()
    second = trained(alpha=50.0)
    client.models.registry.set_alias("bikes", "staging", 2)
    result = cli("models", "list")
    assert result.exit_code == 0, result.output
    [row] = table_rows(result.stdout)
    assert row[:5] == ["model:bikes", "v2", "staging → v2", "champion", "default"]

    versions = cli("models", "list", "bikes")
    assert versions.exit_code == 0, versions.output
    assert versions.stdout.startswith("model:bikes")
    assert "train_r2" in versions.stdout
    first, last = table_rows(versions.stdout)
    assert first[:5] == ["model:bikes/1", "REGISTERED", "—", "sklearn", first[4]]
    assert first[4].startswith("run:")
    assert last[:3] == ["model:bikes/2", "REGISTERED", "staging"]
    assert last[5] == f"{second.metrics['train_r2']:.6g}"


def test_list_json(cli: Invoke, trained: Train) -> None:
    version = trained()
    models = json.loads(cli("models", "list", "--json").stdout)
    assert [(m["uri"], m["latest_version"], m["aliases"]) for m in models] == [
        ("model:bikes", 1, {})
    ]
    [listed] = json.loads(cli("models", "list", "model:bikes", "--json").stdout)
    assert listed["uri"] == "model:bikes/1" and listed["id"] == version.id
    # Range and nulls from the run's training data, and the model (a Ridge) was seen to fail
    # on a missing value.
    assert listed["signature"]["inputs"][0] == {
        "name": "hr",
        "nullable": False,
        "type": "integer",
        "minimum": 0.0,
        "maximum": 23.0,
        "training_nulls": 0,
        "model_takes_missing": False,
    }


def test_list_empty_and_unknown(cli: Invoke) -> None:
    assert "no registered models yet" in cli("models", "list").stdout
    user_error(cli("models", "list", "nope"), "no registered model 'nope'", "loopml models list")


def test_show_a_version(cli: Invoke, trained: Train) -> None:
    version = trained()
    result = cli("models", "show", "bikes/1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("model:bikes/1")
    assert field(out, "id") == version.id
    assert field(out, "state") == "REGISTERED"
    assert field(out, "run") == "run:" + (version.run_id or "").removeprefix("run-")
    assert field(out, "flavor") == "sklearn"
    signature = {row[0]: row[1:] for row in table_rows(out) if len(row) == 4}
    assert signature["hr"] == ["integer", "no", "—"]
    assert signature["temp"] == ["float", "no", "—"]
    assert "outputs: prediction (float)" in out
    assert ["train_r2", f"{version.metrics['train_r2']:.6g}"] in table_rows(out)
    assert "evaluations: none yet" in out


def test_show_by_alias_with_evaluations_as_json(
    cli: Invoke, trained: Train, client: Client, summer: str
) -> None:
    trained()
    client.models.registry.set_alias("bikes", "staging", 1)
    client.models.evaluations.evaluate("bikes/1", summer, "bikers")
    shown = json.loads(cli("models", "show", "bikes@staging", "--json").stdout)
    assert shown["uri"] == "model:bikes/1"
    assert shown["aliases"] == ["staging"]
    assert [e["dataset"] for e in shown["evaluations"]] == ["dataset:bikes-summer@1"]
    assert set(shown["evaluations"][0]["metrics"]) == {"rmse", "mae", "r2"}
    text = cli("models", "show", "bikes@staging").stdout
    assert "dataset:bikes-summer@1" in text and "rmse" in text


def test_show_signature_categories(cli: Invoke, client: Client) -> None:
    """A small classifier on generated data whose string column records its levels."""
    rng = np.random.default_rng(7)
    days = pd.DataFrame({"temp": rng.normal(15, 8, 200), "season": rng.choice(["a", "b"], 200)})
    busy = (days["temp"] > 15).astype(int)
    encode = ColumnTransformer([("s", OneHotEncoder(), ["season"])], remainder="passthrough")
    model = make_pipeline(encode, LogisticRegression()).fit(days, busy)
    with client.start_run("busy", capture_code=False) as run:
        run.log_model(model, name="busy", input_example=days)
    rows = table_rows(cli("models", "show", "busy").stdout)
    assert ["season", "string", "no", "a, b"] in rows


def test_show_unknown_refs(cli: Invoke, trained: Train) -> None:
    trained()
    user_error(cli("models", "show", "nope"), "no model version 'nope'")
    user_error(cli("models", "show", "bikes/9"), "no model version 'bikes/9'")
    user_error(cli("models", "show", "bikes@champion"), "has no alias 'champion'")
    user_error(cli("models", "show", "bikes/x"), "must be a number")


def test_register_a_run_s_model(cli: Invoke, client: Client, bikes: BikeTables) -> None:
    run_id, _ = train_bikes(client, bikes, name=None)
    short = run_id.removeprefix("run-")
    result = cli("models", "register", "bikes", "--run", f"run:{short}", "--description", "v1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("registered model:bikes/1")
    assert field(out, "run") == f"run:{short}"
    assert field(out, "signature") == "13 input column(s)"
    assert field(out, "metrics").startswith("train_r2=")
    again = cli("models", "register", "bikes", "--run", short, "--path", "model/")
    assert again.stdout.startswith("registered model:bikes/2")
    assert client.models.get("bikes/1").description == "v1"


def test_register_errors(cli: Invoke, client: Client, bikes: BikeTables) -> None:
    run_id, _ = train_bikes(client, bikes, name=None)
    user_error(cli("models", "register", "bikes", "--run", "run:deadbeef"), "no run run-deadbeef")
    user_error(
        cli("models", "register", "bikes", "--run", run_id, "--path", "elsewhere"),
        "has no model at 'elsewhere'",
    )


def test_lineage_text_and_json(cli: Invoke, trained: Train) -> None:
    version = trained()
    result = cli("models", "lineage", "model:bikes/1")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "model:bikes/1  (sklearn, REGISTERED)"
    run_uri = "run:" + (version.run_id or "").removeprefix("run-")
    assert lines[1].startswith(f"└─ {run_uri}  experiment 'bikes', FINISHED")
    assert "code: not in a git repository" in lines[2]
    assert lines[-1].startswith("   └─ data (training): dataset:bikes-train@1, 2,067 rows, hash ")
    chain = json.loads(cli("models", "lineage", "bikes", "--json").stdout)
    assert chain["model"]["uri"] == "model:bikes/1"
    assert chain["run"]["uri"] == run_uri
    assert chain["datasets"][0]["rows"] == 2067
    user_error(cli("models", "lineage", "bikes/2"), "no model version 'bikes/2'")


def test_alias_moves_unprotected_and_refuses_protected(cli: Invoke, trained: Train) -> None:
    trained()
    trained(alpha=50.0)
    first = cli("models", "alias", "bikes", "staging", "1")
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "bikes@staging → model:bikes/1  (was unset)"
    assert cli("models", "alias", "model:bikes", "staging", "2").stdout.strip() == (
        "bikes@staging → model:bikes/2  (was v1)"
    )
    user_error(
        cli("models", "alias", "bikes", "champion", "2"),
        "alias 'champion' of bikes is protected",
        "loopml models request bikes/2 --alias champion",
    )
    user_error(cli("models", "alias", "bikes", "staging", "7"), "no model version 'bikes/7'")
    user_error(cli("models", "alias", "bikes", "7", "1"), "not a number")


def test_state_changes(cli: Invoke, trained: Train, client: Client) -> None:
    trained()
    trained(alpha=50.0)
    result = cli("models", "state", "bikes/1", "deprecated")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "model:bikes/1: REGISTERED → DEPRECATED"
    assert client.models.get("bikes/1").state == "DEPRECATED"
    user_error(cli("models", "state", "bikes/1", "gone"), "state must be one of")
    client.models.registry.set_alias("bikes", "staging", 2)
    user_error(cli("models", "state", "bikes/2", "ARCHIVED"), "still holds aliases")


def test_policy_show_set_and_file(cli: Invoke, trained: Train, tmp_path: Path) -> None:
    trained()
    shown = cli("models", "policy", "bikes")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith("approval policy of model:bikes (the default)")
    assert field(shown.stdout, "required approvals") == "1"
    assert field(shown.stdout, "four eyes").startswith("yes")
    assert cli("models", "policy", "bikes", "--show").stdout == shown.stdout

    changed = cli(
        "models",
        "policy",
        "bikes",
        "--set",
        "required_approvals=2",
        "--set",
        'thresholds=[{"metric": "train_r2", "op": ">=", "value": 0.2}]',
        "--set",
        "no_regression.dataset=bikes-summer",
        "--set",
        "no_regression.target=bikers",
        "--set",
        "no_regression.metric=rmse",
    )
    assert changed.exit_code == 0, changed.output
    assert changed.stdout.startswith("policy set for model:bikes")
    assert field(changed.stdout, "required approvals") == "2"
    assert field(changed.stdout, "thresholds") == "train_r2 >= 0.2"
    assert (
        field(changed.stdout, "no regression") == "rmse on bikes-summer (target bikers, margin 0)"
    )

    saved = json.loads(cli("models", "policy", "bikes", "--json").stdout)
    assert saved["required_approvals"] == 2 and saved["no_regression"]["metric"] == "rmse"
    saved.update(required_approvals=1, auto_approve=True, no_regression=None)
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(saved))
    from_file = cli("models", "policy", "bikes", "--file", str(path), "--json")
    assert json.loads(from_file.stdout) == saved
    assert field(cli("models", "policy", "bikes").stdout, "auto approve").startswith("yes")


def test_policy_errors(cli: Invoke, trained: Train, tmp_path: Path) -> None:
    trained()
    user_error(cli("models", "policy", "nope"), "no registered model 'nope'")
    user_error(
        cli("models", "policy", "bikes", "--set", "required_approvals=0"),
        "invalid approval policy",
        "required_approvals",
    )
    user_error(cli("models", "policy", "bikes", "--set", "colour=red"), "colour", "Extra inputs")
    user_error(cli("models", "policy", "bikes", "--set", "two"), "must look like key=value")
    user_error(
        cli("models", "policy", "bikes", "--show", "--set", "four_eyes=false"), "--show only reads"
    )
    user_error(cli("models", "policy", "bikes", "--file", str(tmp_path / "x.json")), "cannot read")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    user_error(cli("models", "policy", "bikes", "--file", str(broken)), "is not valid JSON")
    broken.write_text("[1, 2]")
    user_error(cli("models", "policy", "bikes", "--file", str(broken)), "must hold a JSON object")


def test_evaluate_metrics_and_fairness(cli: Invoke, trained: Train, summer: str) -> None:
    trained()
    result = cli(
        "models", "evaluate", "bikes", "--dataset", "bikes-summer", "--target", "bikers",
        "--sensitive", "workingday",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("model:bikes/1 on dataset:bikes-summer@1  (regression, 2,195 rows")
    rows = table_rows(out)
    assert {r[0] for r in rows if len(r) == 2} == {"mae", "r2", "rmse"}
    assert next(r[:2] for r in rows if len(r) == 3) == ["workingday", "mae_difference"]
    groups = [r for r in rows if len(r) > 3 and r[0] == "workingday"]
    assert [g[1] for g in groups] == ["0", "1"]

    data = json.loads(
        cli(
            "models", "evaluate", "bikes/1", "--dataset", summer, "--target", "bikers", "--json"
        ).stdout
    )
    assert data["model"] == "model:bikes/1" and data["rows"] == 2195
    assert data["metrics"]["rmse"] > data["metrics"]["mae"] > 0
    assert "fairness" not in data


def test_evaluate_errors(cli: Invoke, trained: Train, summer: str) -> None:
    trained()
    base = ["models", "evaluate", "bikes", "--dataset", "bikes-summer"]
    user_error(cli(*base, "--target", "riders"), "target column 'riders' is not in")
    user_error(cli(*base, "--target", "bikers", "--sensitive", "sex"), "sensitive columns")
    user_error(
        cli("models", "evaluate", "bikes", "--dataset", "nope", "--target", "bikers"),
        "dataset:nope",
    )


def test_card_prints_markdown_or_writes_files(cli: Invoke, trained: Train, tmp_path: Path) -> None:
    trained()
    printed = cli("models", "card", "model:bikes/1")
    assert printed.exit_code == 0, printed.output
    assert printed.stdout.startswith("# Model card: bikes v1")
    assert "dataset:bikes-train@1" in printed.stdout
    html, markdown = tmp_path / "card.html", tmp_path / "card.md"
    written = cli("models", "card", "bikes", "--html", str(html), "--markdown", str(markdown))
    assert written.exit_code == 0, written.output
    assert f"wrote {markdown} (model:bikes/1)" in written.stdout
    assert f"wrote {html} (model:bikes/1)" in written.stdout
    assert markdown.read_text() == printed.stdout
    assert html.read_text().startswith("<!DOCTYPE html>")
    user_error(cli("models", "card", "bikes/5"), "no model version 'bikes/5'")


def test_policy_fairness_limits_read_back(cli: Invoke, trained: Train) -> None:
    trained()
    rule = {
        "dataset": "bikes-summer",
        "target": "bikers",
        "sensitive": ["workingday"],
        "limits": {"mae_ratio": 0.8, "mae_difference": 10},
    }
    result = cli("models", "policy", "bikes", "--set", f"fairness={json.dumps(rule)}")
    assert result.exit_code == 0, result.output
    assert field(result.stdout, "fairness") == (
        "mae_ratio ≥ 0.8, mae_difference ≤ 10 on bikes-summer by workingday (target bikers)"
    )
