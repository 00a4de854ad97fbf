"""Neural networks as ONNX graphs with one output: logits or probabilities, or a value.

The networks are real: multi-layer perceptrons trained by scikit-learn, written out as ONNX
graphs (MatMul, Add, Relu) the way a PyTorch or Keras export lays them out, then registered,
loaded with their hash checked, served and batch-scored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.neural_network import MLPClassifier, MLPRegressor

from loopml.artifacts.hashing import hash_file
from loopml.batch.predictions import PREDICTION, ChunkScorer
from loopml.batch.source import Chunk
from loopml.errors import ValidationError
from loopml.registry import ModelVersion
from loopml.registry.packaging import (
    MANIFEST_NAME,
    infer_signature,
    label_network,
    load_model,
    save_model,
)
from loopml.sdk import Client
from loopml.serving.scoring import ModelRunner

onnx = pytest.importorskip("onnx", reason="needs the onnx extra: pip install 'loopml[onnx]'")
pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'loopml[onnx]'")
helper = onnx.helper
# Short trainings: the point is a real network's layout, not its accuracy.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def network_graph(mlp: Any, n_features: int, *, softmax: bool = False) -> Any:
    """The MLP's layers as an ONNX graph: one float input, one output of scores."""
    nodes, inits, current = [], [], "input"
    layers = list(zip(mlp.coefs_, mlp.intercepts_, strict=True))
    for i, (weights, bias) in enumerate(layers):
        w, b = f"w{i}", f"b{i}"
        inits += [
            onnx.numpy_helper.from_array(weights.astype(np.float32), w),
            onnx.numpy_helper.from_array(bias.astype(np.float32), b),
        ]
        nodes += [
            helper.make_node("MatMul", [current, w], [f"mm{i}"]),
            helper.make_node("Add", [f"mm{i}", b], [f"z{i}"]),
        ]
        current = f"z{i}"
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [current], [f"h{i}"]))
            current = f"h{i}"
    if softmax:
        nodes.append(helper.make_node("Softmax", [current], ["scores"], axis=1))
    else:
        nodes.append(helper.make_node("Identity", [current], ["scores"]))
    width = layers[-1][0].shape[1]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info("scores", onnx.TensorProto.FLOAT, [None, width])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _frame(loader: Any, columns: int) -> tuple[pd.DataFrame, Any]:
    X, y = loader(return_X_y=True, as_frame=True)
    X = X.iloc[:, :columns]
    X = (X - X.mean()) / X.std().replace(0.0, 1.0)  # standardised, as networks are fed
    return X.astype("float64"), y


def _agree(labels: Any, proba: Any, expected_proba: Any, expected_labels: Any) -> None:
    np.testing.assert_allclose(proba, expected_proba, atol=1e-4)  # float32 in the graph
    top = np.sort(expected_proba, axis=1)
    clear = (top[:, -1] - top[:, -2]) > 1e-3  # rows not decided by float32 rounding
    np.testing.assert_array_equal(np.asarray(labels)[clear], np.asarray(expected_labels)[clear])


@pytest.mark.parametrize(("scores", "softmax"), [("logits", False), ("probabilities", True)])
def test_a_multiclass_network_is_saved_loaded_served_and_batch_scored(
    client: Client, tmp_path: Path, scores: str, softmax: bool
) -> None:
    X, y = _frame(load_digits, 64)
    mlp = MLPClassifier(hidden_layer_sizes=(32,), max_iter=60, random_state=0).fit(X, y)
    graph = label_network(network_graph(mlp, X.shape[1], softmax=softmax), mlp.classes_, scores)
    folder = tmp_path / "net"
    save_model(graph, folder, signature=infer_signature(X), input_example=X.head(3))
    loaded = load_model(folder, manifest_digest=hash_file(folder / MANIFEST_NAME))
    assert loaded.flavor == "onnx" and loaded.has_proba
    x = X.head(200)
    labels, proba = loaded.predict_both(x)
    _agree(labels, proba, mlp.predict_proba(x), mlp.predict(x))

    with client.start_run("net", capture_code=False) as run:
        version = run.log_model(graph, name="digits-net", flavor="onnx", input_example=X.head(5))
    assert isinstance(version, ModelVersion)
    runner = ModelRunner(version.uri, client.models.load(version.uri))
    served = runner.score(x.to_numpy().tolist())
    assert served.probabilities is not None
    _agree(served.predictions, served.probabilities, mlp.predict_proba(x), mlp.predict(x))

    chunk = Chunk(number=1, first_row=0, table=pa.Table.from_pandas(x, preserve_index=False))
    table = ChunkScorer(loaded).score(chunk)
    _agree(table.column(PREDICTION).to_numpy(), proba, mlp.predict_proba(x), mlp.predict(x))
    assert table.num_columns == x.shape[1] + 1 + len(mlp.classes_)


def test_a_binary_network_with_one_logit_gives_two_probabilities(tmp_path: Path) -> None:
    X, y = _frame(load_breast_cancer, 10)
    mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=200, random_state=0).fit(X, y)
    graph = label_network(network_graph(mlp, X.shape[1]), ["benign", "malignant"], "logits")
    save_model(graph, tmp_path / "net", signature=infer_signature(X))
    labels, proba = load_model(tmp_path / "net").predict_both(X)
    expected = mlp.predict_proba(X)
    names = np.array(["benign", "malignant"])[mlp.predict(X)]
    _agree(labels, proba, expected, names)


def test_a_regression_network_gives_one_value_per_row(tmp_path: Path) -> None:
    X, y = _frame(load_diabetes, 10)
    mlp = MLPRegressor(hidden_layer_sizes=(16,), max_iter=100, random_state=0).fit(X, y)
    save_model(network_graph(mlp, X.shape[1]), tmp_path / "net", signature=infer_signature(X))
    loaded = load_model(tmp_path / "net")
    assert not loaded.has_proba
    np.testing.assert_allclose(loaded.predict(X), mlp.predict(X), rtol=1e-4, atol=1e-3)


def test_labelling_a_network_refuses_what_it_cannot_serve(tmp_path: Path) -> None:
    X, y = _frame(load_breast_cancer, 4)
    mlp = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0).fit(X, y)
    graph = network_graph(mlp, X.shape[1])
    with pytest.raises(ValidationError, match="scores must be one of"):
        label_network(graph, [0, 1], "odds")
    with pytest.raises(ValidationError, match="at least two classes"):
        label_network(graph, [1], "logits")
    with pytest.raises(ValidationError, match="ModelProto"):
        label_network(graph.SerializeToString(), [0, 1])
    wrong = label_network(graph, ["a", "b", "c"], "logits")  # 1 score per row for 3 classes
    with pytest.raises(ValidationError, match="1 scores per row for 3 classes"):
        save_model(wrong, tmp_path / "net", signature=infer_signature(X))
    assert not (tmp_path / "net").exists()
