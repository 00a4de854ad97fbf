"""What produced a run: the git commit (plus any uncommitted diff) and the environment.

Captured once per process and working directory: the code a process runs does not change
under it, and a process that creates many runs should not pay for `git` each time.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from loopml.config.workspace import WORKSPACE_DIR


@dataclass(frozen=True)
class CodeVersion:
    commit: str | None
    dirty: bool | None
    diff: bytes | None  # `git diff HEAD` output when the tree has uncommitted changes


def _git(args: list[str], cwd: Path) -> bytes | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


@functools.cache
def capture_code(cwd: Path) -> CodeVersion:
    """The git state of `cwd`, or an empty record outside a repository. The diff holds the
    uncommitted changes and the content of untracked files (not ignored ones, nor the
    workspace folder; up to `UNTRACKED_LIMIT` bytes each and `UNTRACKED_TOTAL` in all), so
    `git apply` on the commit rebuilds the tree that ran."""
    commit = _git(["rev-parse", "HEAD"], cwd)
    if commit is None:
        return CodeVersion(None, None, None)
    diff = _git(["diff", "HEAD", "--binary"], cwd) or b""
    untracked = _untracked_diff(cwd)
    if untracked:
        diff += untracked
    return CodeVersion(commit.decode().strip(), bool(diff.strip()), diff or None)


UNTRACKED_LIMIT = 5 * 1024 * 1024  # per file
UNTRACKED_TOTAL = 20 * 1024 * 1024  # all untracked files of one capture


def _untracked_diff(cwd: Path) -> bytes:
    """Untracked files as additions to HEAD, through a throw-away index (the user's index
    stays as it is)."""
    listed = _git(["ls-files", "--others", "--exclude-standard", "-z", "--full-name"], cwd)
    top = _git(["rev-parse", "--show-toplevel"], cwd)
    if not listed or top is None:
        return b""
    root = Path(top.decode().strip())
    names = [
        n.decode()
        for n in listed.split(b"\0")
        if n and WORKSPACE_DIR not in Path(n.decode()).parts  # the store is not code
    ]
    kept, total = [], 0
    for name in names:
        size = (root / name).stat().st_size if (root / name).is_file() else UNTRACKED_LIMIT + 1
        if size <= UNTRACKED_LIMIT and total + size <= UNTRACKED_TOTAL:
            kept.append(name)
            total += size
    skipped = sorted(set(names) - set(kept))
    out = b""
    if kept:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
            try:
                subprocess.run(
                    ["git", "read-tree", "HEAD"],
                    cwd=root,
                    env=env,
                    check=True,
                    capture_output=True,
                    timeout=20,
                )
                subprocess.run(
                    ["git", "add", "--", *kept],
                    cwd=root,
                    env=env,
                    check=True,
                    capture_output=True,
                    timeout=60,
                )
                done = subprocess.run(
                    ["git", "diff", "--cached", "--binary", "--no-renames"],
                    cwd=root,
                    env=env,
                    check=True,
                    capture_output=True,
                    timeout=60,
                )
                out = done.stdout
            except (OSError, subprocess.SubprocessError):
                out = b""
    if skipped:
        out += b"\n# untracked files over the size limits, not captured:\n"
        out += b"".join(f"#   {n}\n".encode() for n in skipped)
    return out


@functools.cache
def capture_entry_point() -> dict[str, object]:
    """How this process was started, relative to its repository: the script or module, its
    arguments and the working folder, so the run can be started again."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    script = getattr(main, "__file__", None)
    top = _git(["rev-parse", "--show-toplevel"], Path.cwd())
    repository = Path(top.decode().strip()) if top else None
    entry: dict[str, object] = {
        "argv": list(sys.argv[1:]),
        "repository": str(repository) if repository else None,
        "cwd": _relative(Path.cwd(), repository),
    }
    if spec is not None and getattr(spec, "name", None) and spec.name != "__main__":
        entry.update(kind="module", module=spec.name.removesuffix(".__main__"))
    elif script:
        entry.update(kind="script", script=_relative(Path(script).resolve(), repository))
    else:
        entry.update(kind="interactive")
    return entry


def _relative(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)


@functools.cache
def capture_packages() -> bytes:
    """`name==version` of every installed distribution, sorted (a requirements file)."""
    seen = {
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in metadata.distributions()
        if dist.metadata["Name"]
    }
    return ("\n".join(sorted(seen, key=str.lower)) + "\n").encode()


@functools.cache
def capture_platform() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "executable": sys.executable,
    }


def environment_record(packages_digest: str, package_count: int) -> dict[str, object]:
    return {
        **capture_platform(),
        "packages_digest": packages_digest,
        "packages": package_count,
        "entry_point": capture_entry_point(),
    }
