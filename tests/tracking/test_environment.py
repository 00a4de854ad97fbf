"""What a run records of its code: committed state, uncommitted and untracked content."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loopml.tracking import environment
from loopml.tracking.environment import capture_code


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    capture_code.cache_clear()
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "train.py").write_text("print('v1')\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "first")
    return repo


def test_the_diff_holds_untracked_content_and_applies_on_the_commit(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "train.py").write_text("print('v2')\n")
    (repo / "helpers.py").write_text("VALUE = 42\n")
    (repo / ".loopml").mkdir()
    (repo / ".loopml" / "loopml.db").write_bytes(b"not code")
    code = capture_code(repo)
    assert code.dirty and code.diff is not None
    assert b"VALUE = 42" in code.diff and b"print('v2')" in code.diff
    assert b"loopml.db" not in code.diff  # the workspace folder is not code
    assert _git(repo, "status", "--porcelain").splitlines() == [
        " M train.py",
        "?? .loopml/",
        "?? helpers.py",
    ]  # the user's index was not touched

    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(repo), str(clone))
    (tmp_path / "patch.diff").write_bytes(code.diff)
    _git(clone, "apply", "--binary", str(tmp_path / "patch.diff"))
    assert (clone / "helpers.py").read_text() == "VALUE = 42\n"
    assert (clone / "train.py").read_text() == "print('v2')\n"


def test_oversized_untracked_files_are_named_not_captured(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(environment, "UNTRACKED_LIMIT", 100)
    (repo / "small.py").write_text("x = 1\n")
    (repo / "weights.bin").write_bytes(b"\0" * 1000)
    code = capture_code(repo)
    assert code.diff is not None
    assert b"x = 1" in code.diff
    assert b"#   weights.bin" in code.diff
    assert b"Binary files /dev/null and b/weights.bin" not in code.diff


def test_the_entry_point_names_how_the_process_started(repo: Path) -> None:
    (repo / "train.py").write_text(
        "import json\nfrom loopml.tracking.environment import capture_entry_point\n"
        "print(json.dumps(capture_entry_point()))\n"
    )
    done = subprocess.run(
        [sys.executable, "train.py", "--alpha", "0.5"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    entry = json.loads(done.stdout)
    assert entry["kind"] == "script" and entry["script"] == "train.py"
    assert entry["argv"] == ["--alpha", "0.5"]
    assert Path(entry["repository"]) == repo.resolve() and entry["cwd"] == "."
