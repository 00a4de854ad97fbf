"""loopml's drift verdicts against Evidently 0.7.23's on the same Parquet files.

Evidently needs pandas 2, so it runs in its own environment (`make test` creates
.venv-evidently; or LOOPML_EVIDENTLY_PYTHON points at a Python that has it) through
`evidently_runner.py`. Every column must get the same test, a score equal to 1e-3
relative (1e-9 absolute for scores near 0) and the same verdict, and the dataset the same
verdict: with the default rule (small references: KS, chi-square, Z; large ones:
Wasserstein, Jensen-Shannon) and with each test forced where Evidently has it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from loopml.monitoring import DriftResult, check_drift

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
NUMERICAL = ["num_normal", "num_lognormal", "num_int", "num_low", "num_bin"]
CATEGORICAL = ["cat_str", "cat_many", "cat_bin", "cat_int", "cat_new"]
# Evidently's tests by column kind (Z-test only for the binary columns it is meant for).
FORCED_NUMERICAL = ("ks", "wasserstein", "jensenshannon")
FORCED_CATEGORICAL = ("chisquare", "jensenshannon")
FORCED_BINARY = ("z",)


def evidently_python() -> Path:
    configured = os.environ.get("LOOPML_EVIDENTLY_PYTHON")
    python = Path(configured) if configured else ROOT / ".venv-evidently" / "bin" / "python"
    if not python.exists():
        reason = (
            f"Evidently environment missing ({python}): create it with "
            "`make .venv-evidently/.installed` (`make test` does)"
        )
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return python


def frame(rng: np.random.Generator, rows: int, shift: bool) -> pd.DataFrame:
    """Numerical, low-cardinality, binary and categorical columns, with nulls."""
    s = 1.0 if shift else 0.0
    normal = rng.normal(0.4 * s, 1.0 + 0.3 * s, rows)
    normal[rng.random(rows) < 0.05] = np.nan
    many = [f"v{i:02d}" for i in range(30)]
    weights = np.linspace(1.0, 3.0 if shift else 1.0, 30)
    strs = np.array(["a", "b", "c", "d", "e"], dtype=object)[
        rng.choice(5, rows, p=[0.1, 0.2, 0.3, 0.2, 0.2] if shift else [0.2] * 5)
    ]
    strs[rng.random(rows) < 0.03] = None
    new = rng.choice(["x", "y", "z"], rows).astype(object)
    if shift:
        new[rng.random(rows) < 0.1] = "w"  # a level the reference never had
    return pd.DataFrame(
        {
            "num_normal": normal,
            "num_lognormal": rng.lognormal(0.2 * s, 0.5, rows),
            "num_int": rng.integers(0, 40 + 10 * int(s), rows).astype(np.float64),
            "num_low": rng.choice([0.0, 1.0, 2.0, 3.0], rows, p=[0.4, 0.3, 0.2, 0.1]),
            "num_bin": (rng.random(rows) < 0.3 + 0.15 * s).astype(np.float64),
            "cat_str": strs,
            "cat_many": rng.choice(many, rows, p=weights / weights.sum()),
            "cat_bin": rng.choice(["no", "yes"], rows, p=[0.5 - 0.1 * s, 0.5 + 0.1 * s]),
            "cat_int": rng.integers(1, 5, rows),
            "cat_new": new,
        }
    )


# name: (reference rows, current rows, drift in current); 1000 and 1001 straddle the rule.
CASES = {
    "small_same": (600, 500, False),
    "small_shift": (1000, 700, True),
    "large_same": (1001, 3000, False),
    "large_shift": (4000, 3000, True),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    out = tmp_path_factory.mktemp("evidently")
    paths = {}
    for seed, (name, (n_ref, n_cur, shift)) in enumerate(CASES.items()):
        rng = np.random.default_rng(1000 + seed)
        ref, cur = out / f"{name}_ref.parquet", out / f"{name}_cur.parquet"
        frame(rng, n_ref, False).to_parquet(ref)
        frame(rng, n_cur, shift).to_parquet(cur)
        paths[name] = (ref, cur)
    return paths


def forced_methods(variant: int) -> dict[str, str]:
    """One test per column, a different one per variant, cycling over the usable tests."""
    methods = {}
    for column in NUMERICAL:
        methods[column] = FORCED_NUMERICAL[variant % len(FORCED_NUMERICAL)]
    for column in CATEGORICAL:
        usable = FORCED_BINARY + FORCED_CATEGORICAL if column == "cat_bin" else FORCED_CATEGORICAL
        methods[column] = usable[variant % len(usable)]
    return methods


JOBS: list[tuple[str, dict[str, str]]] = [(name, {}) for name in CASES] + [
    (name, forced_methods(variant))
    for name in ("small_shift", "large_shift", "large_same")
    for variant in range(3)
]


@pytest.fixture(scope="module")
def evidently(
    files: dict[str, tuple[Path, Path]], tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    python = evidently_python()
    work = tmp_path_factory.mktemp("runner")
    jobs = [
        {
            "reference": str(files[name][0]),
            "current": str(files[name][1]),
            "numerical": NUMERICAL,
            "categorical": CATEGORICAL,
            "per_column_method": methods,
        }
        for name, methods in JOBS
    ]
    (work / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run(
        [
            str(python),
            str(HERE / "evidently_runner.py"),
            "--batch",
            str(work / "jobs.json"),
            str(work / "out.json"),
        ],
        check=True,
        timeout=600,
        env={**os.environ, "DO_NOT_TRACK": "1"},
    )
    results: list[dict[str, Any]] = json.loads((work / "out.json").read_text())
    return results


def assert_agree(ours: DriftResult, theirs: dict[str, Any]) -> None:
    by_column = {c["column"]: c for c in theirs["columns"]}
    assert sorted(by_column) == sorted(c.column for c in ours.columns)
    for column in ours.columns:
        other = by_column[column.column]
        where = f"{column.column}: loopml {column.test}={column.statistic} vs Evidently {other}"
        assert column.test == other["test"], where
        assert column.statistic == pytest.approx(other["score"], rel=1e-3, abs=1e-9), where
        assert column.threshold == pytest.approx(other["threshold"]), where
        assert column.drift == other["drift"], where
    assert ours.dataset_drift == theirs["dataset_drift"]
    assert len(ours.drifted) == theirs["drifted"]


JOB_IDS = [f"{name}-default" for name in CASES] + [
    f"{name}-forced-{'-'.join(sorted(set(forced_methods(variant).values())))}"
    for name in ("small_shift", "large_shift", "large_same")
    for variant in range(3)
]


@pytest.mark.parametrize(("index", "job"), list(enumerate(JOBS)), ids=JOB_IDS)
def test_same_tests_scores_and_verdicts(
    index: int,
    job: tuple[str, dict[str, str]],
    files: dict[str, tuple[Path, Path]],
    evidently: list[dict[str, Any]],
) -> None:
    name, methods = job
    ref, cur = files[name]
    ours = check_drift(ref, cur, numerical=NUMERICAL, categorical=CATEGORICAL, tests=methods)
    assert_agree(ours, evidently[index])


def test_the_default_rule_covers_every_test(evidently: list[dict[str, Any]]) -> None:
    chosen = {c["test"] for result in evidently[: len(CASES)] for c in result["columns"]}
    assert chosen == {"ks", "chisquare", "z", "wasserstein", "jensenshannon"}


def test_the_shifted_cases_drift_and_the_others_do_not(evidently: list[dict[str, Any]]) -> None:
    verdicts = {name: evidently[i]["dataset_drift"] for i, name in enumerate(CASES)}
    assert verdicts == {
        "small_same": False,
        "small_shift": True,
        "large_same": False,
        "large_shift": True,
    }
