"""MLflow model folders as `mlflow.sklearn.save_model` writes them (MLmodel, the pickled
estimator, requirements, input example), made without the mlflow package: the real client
makes them in test_mlflow_client.py; these let the rest test every answer fast."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression

TYPES = {"float64": "double", "int64": "long", "bool": "boolean", "object": "string"}


def training_frame(rows: int = 60) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(11)
    frame = pd.DataFrame({"x": rng.normal(size=rows), "z": rng.normal(size=rows)})
    return frame, (frame["x"] - frame["z"] > 0).astype(int)


def sklearn_folder(
    dest: Path, model: Any, frame: pd.DataFrame, *, flavors: dict[str, Any] | None = None
) -> Path:
    """`dest` holding `model` saved as MLflow 3's sklearn flavor does (cloudpickle format)."""
    dest.mkdir(parents=True)
    with (dest / "model.pkl").open("wb") as out:
        pickle.dump(model, out)
    inputs = [
        {"type": TYPES[str(dtype)], "name": name, "required": True}
        for name, dtype in frame.dtypes.items()
    ]
    spec = {
        "flavors": flavors
        or {
            "python_function": {
                "loader_module": "mlflow.sklearn",
                "model_path": "model.pkl",
                "python_version": "3.11.7",
            },
            "sklearn": {
                "pickled_model": "model.pkl",
                "serialization_format": "cloudpickle",
                "sklearn_version": "1.9.1",
            },
        },
        "mlflow_version": "3.17.2",
        "model_id": None,
        "saved_input_example_info": {
            "artifact_path": "input_example.json",
            "pandas_orient": "split",
            "type": "dataframe",
        },
        "signature": {
            "inputs": json.dumps(inputs),
            "outputs": json.dumps([{"type": "long", "required": True}]),
            "params": None,
        },
        "utc_time_created": "2026-12-06 13:18:48.123456",
    }
    (dest / "MLmodel").write_text(yaml.safe_dump(spec))
    (dest / "requirements.txt").write_text("mlflow==3.17.2\ncloudpickle==3.1.3\nscikit-learn\n")
    example = {"columns": list(frame.columns), "data": frame.head(3).to_numpy().tolist()}
    (dest / "input_example.json").write_text(json.dumps(example))
    return dest


def classifier() -> tuple[LogisticRegression, pd.DataFrame]:
    frame, target = training_frame()
    return LogisticRegression().fit(frame, target), frame
