"""Time Signature.validate on the serving hot path.

    .venv/bin/python tests/registry/packaging/bench_validate.py

Not collected by pytest (timings on shared CI machines are noise); run it by hand after
changing column_rules.py or checks.py. The target is under 100 µs for 1 row x 30 columns.
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd

from loopml.registry.packaging import infer_signature


def training_frame(rows: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    columns: dict[str, object] = {f"num{i}": rng.normal(size=rows) for i in range(20)}
    columns |= {f"count{i}": rng.integers(0, 100, size=rows) for i in range(5)}
    columns |= {f"level{i}": rng.choice(["low", "mid", "high"], size=rows) for i in range(3)}
    columns |= {f"text{i}": [f"id-{j}" for j in range(rows)] for i in range(2)}
    return pd.DataFrame(columns)


def request(train: pd.DataFrame, rows: int) -> pd.DataFrame:
    """A request as the server builds it: JSON records -> DataFrame."""
    records = train.head(rows).to_dict(orient="records")
    return pd.DataFrame(records)


def best_microseconds(call: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(call, number=number, repeat=7)) / number * 1e6


def main() -> None:
    train = training_frame()
    signature = infer_signature(train)
    pool = pd.concat([train] * 20, ignore_index=True)
    for rows in (1, 16, 256, 1000, 10_000):
        frame = request(pool, rows)
        assert signature.validate(frame) == []
        took = best_microseconds(partial(signature.validate, frame), max(1, 20_000 // rows))
        print(f"validate {rows:>6} rows x 30 columns: {took:9.1f} µs")
    bad = request(train, 1).assign(num0="oops", level0="unknown")
    took = best_microseconds(partial(signature.validate, bad), 2000)
    print(f"validate      1 row with 2 errors:  {took:9.1f} µs")
    print(f"(python {sys.version.split()[0]}, pandas {pd.__version__}, numpy {np.__version__})")


if __name__ == "__main__":
    main()
