"""The workspace folder: found by walking up, created idempotently."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.config import CONFIG_FILE, WORKSPACE_DIR, find_workspace, init_workspace, load_settings


def test_init_creates_config_and_store_folder(tmp_path: Path) -> None:
    root = init_workspace(tmp_path / "project")

    assert root == (tmp_path / "project").resolve()
    assert (root / CONFIG_FILE).is_file()
    assert (root / WORKSPACE_DIR).is_dir()
    assert (root / WORKSPACE_DIR / ".gitignore").read_text() == "*\n"


def test_the_created_config_loads_as_the_defaults(tmp_path: Path) -> None:
    root = init_workspace(tmp_path)

    settings = load_settings(root, environ={})

    assert settings.resolved_store_url() == f"sqlite:///{root}/.loopml/loopml.db"
    assert settings.resolved_artifacts_url() == str(root / ".loopml" / "artifacts")


def test_init_is_idempotent_and_keeps_user_edits(tmp_path: Path) -> None:
    root = init_workspace(tmp_path)
    (root / CONFIG_FILE).write_text('user = "alice"\n')
    (root / WORKSPACE_DIR / "loopml.db").write_bytes(b"existing store")

    assert init_workspace(tmp_path) == root
    assert init_workspace(tmp_path) == root

    assert (root / CONFIG_FILE).read_text() == 'user = "alice"\n'
    assert (root / WORKSPACE_DIR / "loopml.db").read_bytes() == b"existing store"


def test_find_workspace_walks_up_from_a_subfolder(tmp_path: Path) -> None:
    root = init_workspace(tmp_path / "project")
    deep = root / "src" / "pkg" / "module"
    deep.mkdir(parents=True)

    assert find_workspace(deep) == root


def test_find_workspace_defaults_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = init_workspace(tmp_path / "project")
    (root / "notebooks").mkdir()
    monkeypatch.chdir(root / "notebooks")

    assert find_workspace() == root


@pytest.mark.parametrize("marker", [CONFIG_FILE, WORKSPACE_DIR])
def test_either_marker_makes_a_workspace(tmp_path: Path, marker: str) -> None:
    if marker == CONFIG_FILE:
        (tmp_path / marker).write_text("")
    else:
        (tmp_path / marker).mkdir()

    assert find_workspace(tmp_path / ".") == tmp_path.resolve()


def test_the_nearest_workspace_wins(tmp_path: Path) -> None:
    outer = init_workspace(tmp_path)
    inner = init_workspace(tmp_path / "inner")
    (inner / "sub").mkdir()

    assert find_workspace(inner / "sub") == inner
    assert find_workspace(outer / "inner" / "..") == outer


def test_a_folder_named_like_the_config_file_is_not_a_marker(tmp_path: Path) -> None:
    (tmp_path / "a" / CONFIG_FILE).mkdir(parents=True)
    (tmp_path / "a" / "b").mkdir()

    found = find_workspace(tmp_path / "a" / "b")

    assert found is None or not str(found).startswith(str(tmp_path))


def test_no_workspace_found(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    found = find_workspace(tmp_path / "empty")

    # Nothing in tmp_path; a workspace further up (outside the test's folders) may exist.
    assert found is None or not str(found).startswith(str(tmp_path))
