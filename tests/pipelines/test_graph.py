"""Recording the DAG: nodes, edges, names of repeated calls, and misuse of placeholders."""

from __future__ import annotations

import pytest

from loopml.errors import ValidationError
from loopml.pipelines import StepOutput
from loopml.pipelines.graph import Graph, pick, recording, substitute
from tests.pipelines import sample_pipelines as sp


def test_calls_inside_a_recording_build_the_graph() -> None:
    graph, returned = sp.etl.build({"n": 5})
    assert list(graph.nodes) == ["load", "featurize", "summarize", "moments", "combine"]
    assert graph.nodes["combine"].depends_on == ["summarize", "moments"]
    assert returned == StepOutput("combine")
    assert [n.name for n in graph.ready(set(), set())] == ["load"]
    assert graph.downstream("featurize") == {"summarize", "moments", "combine"}


def test_a_step_called_twice_gets_numbered_names() -> None:
    graph = Graph()
    with recording(graph):
        sp.first("a")
        sp.first("b")
    assert list(graph.nodes) == ["first", "first-2"]


def test_outside_a_pipeline_a_step_is_its_function() -> None:
    assert sp.combine({"mean_x2": 1.0}, [0, 2.0], 3.0) == {
        "mean_x2": 1.0,
        "noise_sd": 2.0,
        "rows": 3.0,
    }


def test_placeholders_refuse_to_be_tested_or_unpacked_and_bad_args_are_named() -> None:
    output = StepOutput("load")
    with pytest.raises(ValidationError, match="not known while"):
        bool(output)
    with pytest.raises(ValidationError, match="cannot be unpacked"):
        list(output)
    with pytest.raises(ValidationError, match="indexed by a name"):
        output[1.5]  # type: ignore[index]
    graph = Graph()
    with recording(graph), pytest.raises(ValidationError, match="cannot take these arguments"):
        sp.first("a", "b")
    with recording(Graph()), pytest.raises(ValidationError, match="another pipeline"):
        sp.combine(output, output, 1.0)


def test_substitute_and_pick() -> None:
    value = substitute({"a": [StepOutput("x"), (1, StepOutput("y"))]}, lambda o: o.node)
    assert value == {"a": ["x", (1, "y")]}
    assert pick({"k": [1, 2]}, ("k", 1), "n") == 2
    with pytest.raises(ValidationError, match="has no item 'z'"):
        pick({"k": 1}, ("z",), "n")
