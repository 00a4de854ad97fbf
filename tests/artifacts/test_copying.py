"""Large files are copied inside the kernel, and stored the usual way where it cannot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from blake3 import blake3

from loopml.artifacts import ArtifactStore, copying
from loopml.artifacts import store as store_module
from loopml.artifacts.copying import copy_in_kernel

MiB = 1 << 20


def test_copy_in_kernel_copies_every_byte(tmp_path: Path) -> None:
    data = os.urandom(3 * MiB + 17)
    source, target = tmp_path / "a", tmp_path / "b"
    source.write_bytes(data)
    with open(source, "rb") as src, open(target, "wb") as dst:
        copied = copy_in_kernel(src.fileno(), dst.fileno())
    if copied is None:
        pytest.skip("copy_file_range is not available on this system")
    assert copied == len(data) and target.read_bytes() == data


def test_copy_in_kernel_says_when_it_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "copy_file_range", raising=False)
    (tmp_path / "a").write_bytes(b"x")
    with open(tmp_path / "a", "rb") as src, open(tmp_path / "b", "wb") as dst:
        assert copy_in_kernel(src.fileno(), dst.fileno()) is None


@pytest.mark.parametrize("kernel", [True, False], ids=["copy_file_range", "read-write"])
def test_large_files_are_stored_with_their_hash_either_way(
    artifact_store: ArtifactStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kernel: bool,
) -> None:
    if not kernel:

        def refuse(*_args: object) -> int:
            raise OSError(copying.errno.EXDEV, "cross-device")

        monkeypatch.setattr(os, "copy_file_range", refuse, raising=False)
    data = os.urandom(store_module.DEDUPE_CHECK_BYTES + 5)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    ref = artifact_store.put_file(source)
    assert ref.digest == blake3(data).hexdigest() and ref.size == len(data)
    assert artifact_store.read_bytes(ref.digest) == data
