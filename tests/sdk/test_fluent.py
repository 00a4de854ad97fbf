"""The module-level SDK: `@loopml.pipeline` runs on the workspace's default client."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import loopml
from loopml.errors import ValidationError
from loopml.pipelines import Pipeline, pipeline, step
from loopml.sdk import Client, fluent


@step
def double(x: int) -> int:
    return 2 * x


@loopml.pipeline(name="doubler")
def doubler(x: int = 3) -> object:
    return double(x)


@pipeline
def bare(x: int = 3) -> object:
    return double(x)


def test_a_loopml_pipeline_runs_without_a_client_in_a_workspace(
    make_client: Callable[..., Client], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    make_client(root=tmp_path / "ws").close()  # a workspace on disk, as `loopml init` makes
    monkeypatch.chdir(tmp_path / "ws")
    for key in ("LOOPML_STORE_URL", "LOOPML_ARTIFACTS_URL"):
        monkeypatch.delenv(key, raising=False)
    loopml.set_client(None)
    try:
        assert isinstance(doubler, Pipeline)
        result = doubler.run(x=4)
        assert result.output == 8
        assert fluent.client().get_run(result.run_id).tags["loopml.pipeline"] == "doubler"
        assert Path(fluent.client().settings.root).resolve() == (tmp_path / "ws").resolve()
    finally:
        fluent.client().close()
        loopml.set_client(None)


def test_the_bare_decorator_asks_for_a_client(client: Client) -> None:
    with pytest.raises(ValidationError, match=r"needs a client.*@loopml.pipeline"):
        bare.run()
    assert bare.run(client).output == 6
