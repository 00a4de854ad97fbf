"""Helpers shared by the CLI tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
from sklearn.linear_model import Ridge
from typer.testing import CliRunner, Result

from loopml.cli import app
from loopml.registry import ModelVersion
from loopml.samples import bikeshare_features, load_bikeshare
from loopml.sdk import Client

Invoke = Callable[..., Result]


def user_error(result: Result, *fragments: str) -> str:
    """Assert `result` is a one-line `error: …` with exit code 2 and return the message."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    message = result.stderr.strip()
    assert message.startswith("error: "), message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def run_cli(args: Sequence[str]) -> Result:
    """Invoke without a workspace option (tests of `init` and global options)."""
    return CliRunner().invoke(app, list(args))


@dataclass(frozen=True)
class BikeTables:
    """The bundled Bike Sharing hours as model inputs plus the `bikers` target."""

    train: pd.DataFrame  # January to March
    summer: pd.DataFrame  # June to August: the same model meets warmer days


def bike_tables() -> BikeTables:
    frame = load_bikeshare()
    table = bikeshare_features(frame).assign(bikers=frame["bikers"].astype(float).to_numpy())
    months = frame["timestamp"].dt.month
    return BikeTables(
        train=table[months <= 3].reset_index(drop=True),
        summer=table[(months >= 6) & (months <= 8)].reset_index(drop=True),
    )


def train_bikes(
    client: Client, tables: BikeTables, *, alpha: float = 1.0, name: str | None = "bikes"
) -> tuple[str, ModelVersion | None]:
    """Fit a Ridge on the winter hours in a run of experiment `bikes`; the run logs the model
    under `model/` and, with a `name`, registers it. Returns the run id and the version."""
    data = client.log_dataset("bikes-train", tables.train)
    x, y = tables.train.drop(columns=["bikers"]), tables.train["bikers"]
    with client.start_run(
        "bikes", f"ridge-{alpha:g}", inputs=[data], params={"alpha": alpha}, capture_code=False
    ) as run:
        model = Ridge(alpha=alpha).fit(x, y)
        run.log_metric("train_r2", float(model.score(x, y)))
        logged = run.log_model(model, name=name, input_example=x, register=name is not None)
    return run.id, logged if isinstance(logged, ModelVersion) else None


def table_rows(output: str) -> list[list[str]]:
    """The body rows of every rich table in `output`, as stripped cells."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def field(output: str, key: str) -> str:
    """The value of `key` in a two-column key/value block (`status    PENDING`)."""
    for line in output.splitlines():
        if line.startswith(key + " "):
            return line[len(key) :].strip()
    raise AssertionError(f"no {key!r} line in:\n{output}")


# Every `loopml models` subcommand, in the order `--help` lists them.
MODEL_COMMANDS = [
    "list",
    "show",
    "register",
    "lineage",
    "alias",
    "state",
    "request",
    "requests",
    "approve",
    "reject",
    "cancel",
    "policy",
    "evaluate",
    "card",
]
