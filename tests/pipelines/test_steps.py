"""`@step`: names, the cache switch, and pickling by reference."""

from __future__ import annotations

import pickle

import pytest

from loopml.errors import ValidationError
from loopml.pipelines import Step, step
from tests.pipelines import sample_pipelines as sp


def test_decorator_forms_and_names() -> None:
    assert isinstance(sp.load, Step) and sp.load.name == "load" and sp.load.cache
    assert sp.moments.name == "moments"
    assert step(name="renamed", cache=False)(lambda: 1).name == "renamed"
    assert sp.load.__doc__ == sp.load.fn.__doc__


def test_a_module_level_step_pickles_as_itself() -> None:
    assert pickle.loads(pickle.dumps(sp.load)) is sp.load
    assert sp.load.importable


def test_a_step_inside_a_function_is_not_importable() -> None:
    @step
    def local() -> int:
        return 1

    assert not local.importable


def test_bad_declarations_are_refused() -> None:
    with pytest.raises(ValidationError, match="decorates a function"):
        Step(3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="cache must be True or False"):
        step(cache="yes")(lambda: 1)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="step name"):
        step(name="bad name")(lambda: 1)
