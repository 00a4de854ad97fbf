"""ArtifactStore conformance: the same contract on the local folder and on S3."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from blake3 import blake3

from loopml.artifacts import ArtifactRef, ArtifactStore, new_hasher, open_artifact_store
from loopml.artifacts import store as store_module
from loopml.artifacts.local import LocalBlobBackend
from loopml.artifacts.s3 import S3BlobBackend
from loopml.errors import ArtifactCorruptedError, NotFoundError, ValidationError

if TYPE_CHECKING:
    from .conftest import StoreSpec

MiB = 1 << 20
PAYLOAD = b"loopml artifact \x00\xff" * 1000


def write_random_file(path: Path, size: int, block: int = MiB) -> str:
    """A file of `size` random bytes, written in blocks; returns its BLAKE3 digest."""
    hasher = blake3()
    with open(path, "wb") as handle:
        for start in range(0, size, block):
            chunk = os.urandom(min(block, size - start))
            hasher.update(chunk)
            handle.write(chunk)
    return str(hasher.hexdigest())


# ---------------------------------------------------------------------- writing
def test_put_bytes_returns_the_blake3_digest(artifact_store: ArtifactStore) -> None:
    ref = artifact_store.put_bytes(PAYLOAD)

    assert ref == ArtifactRef(blake3(PAYLOAD).hexdigest(), len(PAYLOAD))
    assert artifact_store.exists(ref.digest)


def test_put_file_returns_the_blake3_digest(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(PAYLOAD)

    ref = artifact_store.put_file(source)

    assert ref == ArtifactRef(blake3(PAYLOAD).hexdigest(), len(PAYLOAD))
    assert source.read_bytes() == PAYLOAD  # the source is left alone


def test_the_same_bytes_are_stored_once(
    artifact_store: ArtifactStore, stored_blobs: Callable[[], set[str]], tmp_path: Path
) -> None:
    source = tmp_path / "same.bin"
    source.write_bytes(PAYLOAD)

    refs = {
        artifact_store.put_bytes(PAYLOAD),
        artifact_store.put_file(source),
        artifact_store.put_file(source),
    }

    assert len(refs) == 1
    assert stored_blobs() == {blake3(PAYLOAD).hexdigest()}


def test_concurrent_puts_of_the_same_bytes(
    artifact_store: ArtifactStore, stored_blobs: Callable[[], set[str]], tmp_path: Path
) -> None:
    source = tmp_path / "shared.bin"
    source.write_bytes(PAYLOAD)
    refs: list[ArtifactRef] = []
    errors: list[BaseException] = []

    def put() -> None:
        try:
            refs.append(artifact_store.put_file(source))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(set(refs)) == 1
    assert stored_blobs() == {refs[0].digest}
    assert artifact_store.read_bytes(refs[0].digest) == PAYLOAD


def test_empty_blob(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")

    ref = artifact_store.put_file(tmp_path / "empty")

    assert ref == ArtifactRef(blake3(b"").hexdigest(), 0)
    assert artifact_store.read_bytes(ref.digest) == b""
    assert artifact_store.local_path(ref.digest).read_bytes() == b""


# ---------------------------------------------------------------------- reading
def test_every_reader_returns_the_exact_bytes(
    artifact_store: ArtifactStore, tmp_path: Path
) -> None:
    source = tmp_path / "multi-chunk.bin"
    digest = write_random_file(source, 2 * store_module.COPY_CHUNK + 12345)
    expected = source.read_bytes()

    ref = artifact_store.put_file(source)

    assert ref.digest == digest
    assert artifact_store.read_bytes(digest) == expected
    assert artifact_store.local_path(digest).read_bytes() == expected
    assert artifact_store.local_path(digest).read_bytes() == expected  # memoised path
    with artifact_store.open(digest) as handle:
        assert handle.read() == expected
    fetched = artifact_store.fetch(digest, tmp_path / "out" / "copy.bin")
    assert fetched == tmp_path / "out" / "copy.bin"
    assert fetched.read_bytes() == expected
    assert not (tmp_path / "out" / "copy.bin.part").exists()


def test_fetch_accepts_a_string_destination(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    digest = artifact_store.put_bytes(PAYLOAD).digest

    fetched = artifact_store.fetch(digest, str(tmp_path / "copy.bin"))  # type: ignore[arg-type]

    assert fetched.read_bytes() == PAYLOAD


def test_a_second_store_on_the_same_location_reads_the_blobs(
    artifact_store: ArtifactStore, store_spec: StoreSpec, tmp_path: Path
) -> None:
    digest = artifact_store.put_bytes(PAYLOAD).digest

    other = open_artifact_store(
        store_spec.url, tmp_path / "other-cache", endpoint_url=store_spec.endpoint_url
    )

    assert other.read_bytes(digest) == PAYLOAD
    assert other.local_path(digest).read_bytes() == PAYLOAD


def test_large_file_streams_with_bounded_memory(tmp_path: Path) -> None:
    """64 MiB through put_file, local_path and fetch with a few MiB of Python memory.

    Local backend only: moto serves S3 from this very process, so its own buffers would
    count; the S3 code path shares the same chunked loops (see test_every_reader…).
    """
    store = open_artifact_store(str(tmp_path / "artifacts"), tmp_path / "cache")
    size = 64 * MiB
    source = tmp_path / "big.bin"
    digest = write_random_file(source, size)

    tracemalloc.start()
    try:
        ref = store.put_file(source)
        store._verified.clear()  # force a full verification by local_path
        path = store.local_path(digest)
        fetched = store.fetch(digest, tmp_path / "fetched.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert ref == ArtifactRef(digest, size)
    assert path.stat().st_size == size
    assert fetched.stat().st_size == size
    assert peak < size / 4, f"peak Python memory {peak / MiB:.1f} MiB for a 64 MiB file"


# ---------------------------------------------------------------------- corruption
TAMPERINGS: dict[str, Callable[[bytes], bytes]] = {
    "byte-flipped": lambda data: data[:10] + bytes([data[10] ^ 1]) + data[11:],
    "truncated": lambda data: data[: len(data) // 2],
    "replaced": lambda data: b"something else entirely",
    "emptied": lambda data: b"",
}


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_tampered_blob_is_refused_by_every_reader(
    artifact_store: ArtifactStore,
    overwrite_blob: Callable[[str, bytes], None],
    tmp_path: Path,
    tampering: str,
) -> None:
    digest = artifact_store.put_bytes(PAYLOAD).digest
    overwrite_blob(digest, TAMPERINGS[tampering](PAYLOAD))
    readers: dict[str, Callable[[], Any]] = {
        "read_bytes": lambda: artifact_store.read_bytes(digest),
        "local_path": lambda: artifact_store.local_path(digest),
        "open": lambda: artifact_store.open(digest),
        "fetch": lambda: artifact_store.fetch(digest, tmp_path / "out.bin"),
    }

    for name, read in readers.items():
        with pytest.raises(ArtifactCorruptedError, match=digest) as info:
            read()
        assert "tampered" in str(info.value), name

    assert not (tmp_path / "out.bin").exists()
    assert not (tmp_path / "out.bin.part").exists()
    cached = list(artifact_store.cache_dir.rglob("*")) if artifact_store.cache_dir.exists() else []
    assert [p for p in cached if p.is_file()] == []  # no wrong bytes left in the cache


def test_tampering_after_a_verified_read_is_still_caught(
    artifact_store: ArtifactStore, overwrite_blob: Callable[[str, bytes], None]
) -> None:
    digest = artifact_store.put_bytes(PAYLOAD).digest
    first = artifact_store.local_path(digest)
    assert first.read_bytes() == PAYLOAD

    overwrite_blob(digest, TAMPERINGS["byte-flipped"](PAYLOAD))

    with pytest.raises(ArtifactCorruptedError, match=digest):
        artifact_store.read_bytes(digest)
    try:
        path = artifact_store.local_path(digest)
    except ArtifactCorruptedError:
        return  # local: the blob itself is re-verified once it changed
    assert path.read_bytes() == PAYLOAD  # S3: the copy verified earlier, never wrong bytes


@pytest.mark.s3
def test_a_tampered_cache_copy_is_replaced(s3_url: str, s3_server: str, tmp_path: Path) -> None:
    """Remote backends keep verified local copies; a damaged copy is fetched again."""
    store = open_artifact_store(s3_url, tmp_path / "cache", endpoint_url=s3_server)
    digest = store.put_bytes(PAYLOAD).digest
    cached = store.local_path(digest)
    cached.write_bytes(b"bit rot")

    assert store.local_path(digest).read_bytes() == PAYLOAD
    assert store.local_path(digest) == cached


def test_deleting_a_corrupted_blob_and_storing_it_again_heals_it(
    artifact_store: ArtifactStore, overwrite_blob: Callable[[str, bytes], None]
) -> None:
    digest = artifact_store.put_bytes(PAYLOAD).digest
    overwrite_blob(digest, b"garbage")
    with pytest.raises(ArtifactCorruptedError, match="delete it from the store"):
        artifact_store.read_bytes(digest)

    artifact_store.backend.remove(digest)
    artifact_store.put_bytes(PAYLOAD)

    assert artifact_store.read_bytes(digest) == PAYLOAD


# ---------------------------------------------------------------------- failed writes
class SimulatedCrash(BaseException):
    """Stands for anything that stops a write half-way (KeyboardInterrupt, SystemExit…)."""


def test_a_write_interrupted_half_way_leaves_nothing(
    artifact_store: ArtifactStore,
    stored_blobs: Callable[[], set[str]],
    staged_paths: list[Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    source = tmp_path / "big.bin"
    digest = write_random_file(source, 3 * store_module.COPY_CHUNK)
    real_hasher = new_hasher

    class CrashingHasher:
        def __init__(self, **options: Any) -> None:
            self.inner = real_hasher(**options)
            self.updates = 0

        def update(self, data: Any) -> None:
            self.updates += 1
            if self.updates == 2:  # after one chunk reached the staging file
                raise SimulatedCrash
            self.inner.update(data)

    monkeypatch.setattr(store_module, "new_hasher", CrashingHasher)

    with pytest.raises(SimulatedCrash):
        artifact_store.put_file(source)

    assert len(staged_paths) == 1
    assert not staged_paths[0].exists()
    assert stored_blobs() == set()
    assert not artifact_store.exists(digest)


def test_unreadable_source_is_a_validation_error_and_leaves_nothing(
    artifact_store: ArtifactStore,
    stored_blobs: Callable[[], set[str]],
    staged_paths: list[Path],
) -> None:
    unreadable = Path("/proc/self/mem")  # a regular file whose reads fail, even for root

    with pytest.raises(ValidationError, match=r"cannot store /proc/self/mem: .*error"):
        artifact_store.put_file(unreadable)

    assert all(not p.exists() for p in staged_paths)
    assert stored_blobs() == set()


@pytest.mark.parametrize("kind", ["missing", "folder", "fifo"])
def test_sources_that_are_not_regular_files_are_refused(
    artifact_store: ArtifactStore,
    stored_blobs: Callable[[], set[str]],
    staged_paths: list[Path],
    tmp_path: Path,
    kind: str,
) -> None:
    source = tmp_path / kind
    if kind == "folder":
        source.mkdir()
    elif kind == "fifo":
        os.mkfifo(source)

    with pytest.raises(ValidationError, match="is not a readable file"):
        artifact_store.put_file(source)

    assert staged_paths == []
    assert stored_blobs() == set()


@pytest.mark.parametrize("data", ["text", None, 42, [1, 2]])
def test_put_bytes_refuses_anything_but_bytes(artifact_store: ArtifactStore, data: Any) -> None:
    with pytest.raises(ValidationError, match="can only store bytes"):
        artifact_store.put_bytes(data)


_KILLED_CHILD = """
import os, signal, sys
from pathlib import Path
from loopml.artifacts import open_artifact_store
from loopml.artifacts import store as store_module

url, cache, endpoint, source = sys.argv[1:5]
store = open_artifact_store(url, Path(cache), endpoint_url=endpoint or None)
real = store_module.new_hasher

class DyingHasher:
    def __init__(self, **options):
        self.inner, self.updates = real(**options), 0
    def update(self, data):
        self.updates += 1
        if self.updates == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        self.inner.update(data)

def staging_path(real=store.backend.staging_path):
    path = real()
    print(path, flush=True)  # for the test to clean up after the crash
    return path

store_module.new_hasher = DyingHasher
store.backend.staging_path = staging_path
store.put_file(Path(source))
"""


def test_a_process_killed_mid_write_leaves_no_visible_blob(
    store_spec: StoreSpec, stored_blobs: Callable[[], set[str]], tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    digest = write_random_file(source, 3 * store_module.COPY_CHUNK)
    args = [store_spec.url, str(store_spec.cache_dir), store_spec.endpoint_url or "", str(source)]

    child = subprocess.run(
        [sys.executable, "-c", _KILLED_CHILD, *args], capture_output=True, timeout=120, text=True
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    staged = Path(child.stdout.strip())
    assert staged.is_file()  # a hard crash leaves its staging file, invisible to readers
    staged.unlink()
    assert stored_blobs() == set()
    store = open_artifact_store(
        store_spec.url, store_spec.cache_dir, endpoint_url=store_spec.endpoint_url
    )
    with pytest.raises(NotFoundError):
        store.read_bytes(digest)
    assert store.put_file(source).digest == digest  # and a retry succeeds


# ---------------------------------------------------------------------- bad references
def test_unknown_digest_is_not_found(artifact_store: ArtifactStore, tmp_path: Path) -> None:
    digest = blake3(b"never stored").hexdigest()

    assert not artifact_store.exists(digest)
    for read in (
        lambda: artifact_store.read_bytes(digest),
        lambda: artifact_store.local_path(digest),
        lambda: artifact_store.open(digest),
        lambda: artifact_store.fetch(digest, tmp_path / "out.bin"),
    ):
        with pytest.raises(NotFoundError, match=f"artifact {digest} is not in the store"):
            read()
    assert not (tmp_path / "out.bin").exists()


@pytest.mark.parametrize(
    "digest",
    ["", "abc", "A" * 64, "g" * 64, "a" * 63, "a" * 65, "../" + "a" * 61, None, 42],
)
def test_malformed_digest_is_a_validation_error(
    artifact_store: ArtifactStore, tmp_path: Path, digest: Any
) -> None:
    for call in (
        lambda: artifact_store.exists(digest),
        lambda: artifact_store.read_bytes(digest),
        lambda: artifact_store.local_path(digest),
        lambda: artifact_store.fetch(digest, tmp_path / "out.bin"),
    ):
        with pytest.raises(ValidationError, match="is not an artifact id"):
            call()


# ---------------------------------------------------------------------- fsync and setup
@pytest.mark.parametrize("fsync", [True, False])
def test_fsync_flag(
    store_spec: StoreSpec, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fsync: bool
) -> None:
    calls: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    store = open_artifact_store(
        store_spec.url, store_spec.cache_dir, endpoint_url=store_spec.endpoint_url, fsync=fsync
    )
    source = tmp_path / "x.bin"
    source.write_bytes(PAYLOAD)

    digest = store.put_file(source).digest
    store.put_bytes(b"other bytes")

    assert store.read_bytes(digest) == PAYLOAD
    if store_spec.is_s3:
        assert calls == []  # an S3 PUT is durable once it returns
    elif fsync:
        assert len(calls) == 4  # each blob and its folder
    else:
        assert calls == []


def test_open_artifact_store_picks_the_backend(tmp_path: Path) -> None:
    assert isinstance(open_artifact_store(str(tmp_path), tmp_path).backend, LocalBlobBackend)
    file_url = open_artifact_store(f"file://{tmp_path}/a", tmp_path)
    assert isinstance(file_url.backend, LocalBlobBackend)
    assert file_url.backend.root == tmp_path / "a"


@pytest.mark.s3
def test_open_artifact_store_on_s3(s3_url: str, s3_server: str, tmp_path: Path) -> None:
    store = open_artifact_store(s3_url, tmp_path, endpoint_url=s3_server)

    assert isinstance(store.backend, S3BlobBackend)
    assert store.backend.url == s3_url


@pytest.mark.parametrize("url", ["ftp://host/artifacts", "gs://bucket/prefix"])
def test_unsupported_artifact_url(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValidationError, match="unsupported artifact URL"):
        open_artifact_store(url, tmp_path)


def test_storing_a_large_file_again_copies_nothing(
    artifact_store: ArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "big.bin"
    write_random_file(source, 65 * MiB)
    first = artifact_store.put_file(source)

    def no_staging() -> Path:
        raise AssertionError("a stored file was copied again")

    monkeypatch.setattr(artifact_store.backend, "staging_path", no_staging)
    assert artifact_store.put_file(source) == first


def test_concurrent_fetches_to_one_destination(
    artifact_store: ArtifactStore, tmp_path: Path
) -> None:
    """Threads loading the same model fetch the same blob to the same place at once."""
    data = os.urandom(4 * MiB)
    ref = artifact_store.put_bytes(data)
    destination = tmp_path / "fetched" / "model.bin"
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            for _ in range(5):
                artifact_store.fetch(ref.digest, destination)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert destination.read_bytes() == data
    assert [p.name for p in destination.parent.iterdir()] == ["model.bin"]  # no leftovers
