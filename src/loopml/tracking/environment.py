"""What produced a run: the git commit (plus any uncommitted diff) and the environment.

Captured once per process and working directory: the code a process runs does not change
under it, and a process that creates many runs should not pay for `git` each time.
"""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


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
    """The git state of `cwd`, or an empty record outside a repository."""
    commit = _git(["rev-parse", "HEAD"], cwd)
    if commit is None:
        return CodeVersion(None, None, None)
    diff = _git(["diff", "HEAD", "--binary"], cwd) or b""
    untracked = _git(["ls-files", "--others", "--exclude-standard"], cwd) or b""
    if untracked.strip():
        diff += b"\n# untracked files:\n" + untracked
    return CodeVersion(commit.decode().strip(), bool(diff.strip()), diff or None)


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
    return {**capture_platform(), "packages_digest": packages_digest, "packages": package_count}
