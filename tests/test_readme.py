"""The README's Python tour runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import loopml
from loopml.sdk.fluent import client

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("LOOPML_STORE_URL", "LOOPML_ARTIFACTS_URL"):
        monkeypatch.delenv(key, raising=False)
    loopml.set_client(None)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2
    namespace: dict[str, object] = {}
    try:
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)
        assert loopml.get_dataset("bikes@1").row_count == 2067
        best = namespace["best"]
        assert isinstance(best, loopml.RunList) and len(best) == 1
        assert best[0].metrics["rmse"] == 41.2
        assert loopml.get_dataset("bikes@2").parent_id == loopml.get_dataset("bikes@1").id
    finally:
        client().close()
        loopml.set_client(None)
