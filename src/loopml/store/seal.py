"""The audit seal: the secret key of the audit trail and the checkpoints of its head, both
kept outside the metadata store.

Someone who can write to the database can rewrite rows, but without the key they cannot
compute a valid MAC, and without the checkpoint file they cannot hide that events were
removed from the end (or all of them). The key comes from the `audit_key` secret (servers)
or a 0600 key file created for a new trail; the checkpoint file gets one line per
committed transaction that appended events, written after the commit (never for a
transaction that rolled back), by a single `write(2)` on an O_APPEND descriptor so that
concurrent processes never interleave lines.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.engine import ExceptionContext

from loopml.errors import ConfigError
from loopml.store.schema import audit_events

KEY_BYTES = 32
_PENDING = "loopml_audit_pending"  # (seq, mac, key id) appended in the open transaction
_COMMITTING = "loopml_audit_committing"  # the same, once COMMIT was sent


@dataclass(frozen=True)
class Checkpoint:
    """One line of the checkpoint file: the head after a committed transaction."""

    seq: int
    mac: str
    key_id: str


def key_id_of(key: bytes) -> str:
    """A short public name of a key, so a replaced key is told apart from an edited trail."""
    return hmac.new(key, b"loopml audit key id", hashlib.sha256).hexdigest()[:16]


def parse_secret(text: str) -> bytes:
    """An `audit_key` secret: hex or base64 of at least 32 random bytes."""
    value = text.strip()
    decoded: bytes | None = None
    try:
        decoded = bytes.fromhex(value)
    except ValueError:
        try:
            decoded = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_")
        except (binascii.Error, ValueError):
            decoded = None
    if decoded is None or len(decoded) < KEY_BYTES:
        raise ConfigError(
            f"audit_key must be hex or base64 of at least {KEY_BYTES} random bytes; create "
            'one with: python -c "import secrets; print(secrets.token_hex(32))"'
        )
    return decoded


class AuditSeal:
    """The key (loaded on first use) and the checkpoint file of one store's audit trail."""

    def __init__(
        self, engine: Engine, key_file: Path, anchor_file: Path, secret: str | None = None
    ) -> None:
        self.engine = engine
        self.key_file = key_file
        self.anchor_file = anchor_file
        self.from_secret = secret is not None
        self._key: bytes | None = parse_secret(secret) if secret is not None else None
        self._lock = threading.Lock()
        self._fd = -1
        self._fd_inode = -1  # of the open checkpoint file
        self._file_state: tuple[int, int] | None = None  # (inode, mtime) of the loaded key
        self._key_ids: dict[bytes, str] = {}
        self._keys: dict[str, bytes] = {}  # by key id, for the keys `id_of` named
        # (seq, mac, key) of the newest event this process committed and checkpointed
        self._committed: tuple[int, str, bytes] | None = None
        self.highest_checkpoint = 0  # the newest head this process checkpointed

    # ------------------------------------------------------------------ the key
    def key(self, conn: Connection | None = None) -> bytes:
        """The key; a new trail gets a fresh key file, a lost key is never replaced.

        A key file replaced by a rotation in another process is read again (one `stat`).
        `conn`, when given, is the open transaction to look for existing events in.
        """
        if self._key is not None and (self.from_secret or self._file_state == self._state()):
            return self._key
        with self._lock:
            if self.from_secret and self._key is not None:
                return self._key
            self._key = self._load_or_create(conn)
            self._file_state = self._state()
            return self._key

    def _state(self) -> tuple[int, int] | None:
        try:
            found = os.stat(self.key_file)
        except FileNotFoundError:
            return None
        return (found.st_ino, found.st_mtime_ns)

    def key_after(self, seq: int, mac: str, conn: Connection | None = None) -> bytes:
        """The key to append after head (`seq`, `mac`), read in the caller's transaction.

        When that head is the event this process committed last, nothing was committed
        since (a rotation always appends its own event, so it moves the head): the key
        that event was MACed with is the key, and the key file need not be looked at.
        Otherwise `key` checks the file.
        """
        committed = self._committed
        if committed is not None and committed[0] == seq and committed[1] == mac:
            return committed[2]
        return self.key(conn)

    @property
    def key_id(self) -> str:
        return key_id_of(self.key())

    def id_of(self, key: bytes) -> str:
        """`key_id_of`, remembered for the key in use (appends ask on every event)."""
        cached = self._key_ids.get(key)
        if cached is None:
            cached = self._key_ids[key] = key_id_of(key)
            self._keys[cached] = key
        return cached

    def _load_or_create(self, conn: Connection | None) -> bytes:
        if self.key_file.exists():
            return read_key_file(self.key_file)
        query = select(audit_events.c.seq).limit(1)
        if conn is not None:
            has_events = conn.execute(query).first() is not None
        else:
            with self.engine.connect() as own:
                has_events = own.execute(query).first() is not None
        if has_events or self.checkpoints():
            raise ConfigError(
                f"the audit key file {self.key_file} is missing but the audit trail already "
                "has events: restore the key file (or set LOOPML_AUDIT_KEY to the key); "
                "loopml never replaces a lost key, since that would hide tampering"
            )
        return write_key_file(self.key_file, secrets.token_bytes(KEY_BYTES))

    def replace_key(self, key: bytes) -> None:
        """Use `key` from now on (after a rotation committed)."""
        with self._lock:
            self._key = key
            self._file_state = None if self.from_secret else self._state()
            self._committed = None

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self, seq: int, mac: str, key_id: str) -> None:
        """Append one checkpoint line (the head after a committed transaction)."""
        line = f"{seq} {mac} {key_id}\n".encode()
        with self._lock:
            if self._fd >= 0 and not self._still_current():
                os.close(self._fd)  # a rotation moved the file aside: follow the new one
                self._fd = -1
            if self._fd < 0:
                self.anchor_file.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.anchor_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                self._fd_inode = os.fstat(self._fd).st_ino
            os.write(self._fd, line)
            if seq >= self.highest_checkpoint:
                key = self._keys.get(key_id)
                self._committed = None if key is None else (seq, mac, key)
            self.highest_checkpoint = max(self.highest_checkpoint, seq)

    def _still_current(self) -> bool:
        try:
            return os.stat(self.anchor_file).st_ino == self._fd_inode
        except FileNotFoundError:
            return False

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint line written so far (a torn last line is skipped)."""
        try:
            text = self.anchor_file.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return []
        found = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0].isdigit():
                found.append(Checkpoint(int(parts[0]), parts[1], parts[2]))
        return found

    def restart_checkpoints(self, seq: int, mac: str, retired_suffix: str) -> None:
        """After a key rotation: keep the old file as `<file>.<suffix>`, start a new one."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            if self.anchor_file.exists():
                retired = self.anchor_file.name + "." + retired_suffix
                self.anchor_file.replace(self.anchor_file.with_name(retired))
        self.checkpoint(seq, mac, self.key_id)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def read_key_file(path: Path) -> bytes:
    """The key in `path`, refused when other users may read it."""
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"the audit key file {path} is readable by other users (mode "
            f"{stat.S_IMODE(mode):o}); run `chmod 600 {path}`"
        )
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the audit key file {path} is not a hex key: restore it") from exc
    if len(key) < KEY_BYTES:
        raise ConfigError(f"the audit key in {path} is shorter than {KEY_BYTES} bytes")
    return key


def write_key_file(path: Path, key: bytes, *, replace: bool = False) -> bytes:
    """Write `key` to `path` (mode 0600) in one step: readers see no key or the whole key.

    Without `replace`, a key another process wrote first wins and is returned.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key.hex().encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if replace:
            temporary.replace(path)
            return key
        try:
            os.link(temporary, path)  # fails when the file exists: never two keys
        except FileExistsError:
            return read_key_file(path)
        return key
    finally:
        temporary.unlink(missing_ok=True)


# ---------------------------------------------------------------------- binding
_SEALS: weakref.WeakKeyDictionary[Engine, AuditSeal] = weakref.WeakKeyDictionary()


def attach_seal(engine: Engine, seal: AuditSeal) -> None:
    """Make `seal` the one `append_event` uses on `engine`, and checkpoint after commits."""
    first = engine not in _SEALS
    _SEALS[engine] = seal
    if first:
        event.listen(engine, "commit", _on_commit)
        event.listen(engine, "rollback", _on_rollback)
        event.listen(engine, "begin", _on_begin)
        event.listen(engine, "handle_error", _on_error)
        engine_ref = weakref.ref(engine)

        def on_checkin(_dbapi_conn: Any, record: Any) -> None:
            owner = engine_ref()
            if owner is not None and record is not None:
                _flush(owner, record.info)

        event.listen(engine.pool, "checkin", on_checkin)


def seal_of(engine: Engine) -> AuditSeal:
    found = _SEALS.get(engine)
    if found is None:
        raise ConfigError(
            "this engine has no audit seal: open the store with loopml.store.open_stores"
        )
    return found


def stage_checkpoint(conn: Connection, seq: int, mac: str, key_id: str) -> None:
    """Remember the newest event of the open transaction; it is checkpointed once the
    transaction has committed."""
    conn.info[_PENDING] = (seq, mac, key_id)


def _on_commit(conn: Connection) -> None:
    pending = conn.info.pop(_PENDING, None)
    if pending is not None:
        conn.info[_COMMITTING] = pending


def _on_rollback(conn: Connection) -> None:
    conn.info.pop(_PENDING, None)


def _on_error(context: ExceptionContext) -> None:
    if context.connection is not None:  # a failed COMMIT: nothing was committed
        context.connection.info.pop(_COMMITTING, None)


def _on_begin(conn: Connection) -> None:
    _flush(conn.engine, conn.info)


def _flush(engine: Engine, info: dict[str, Any]) -> None:
    committed = info.pop(_COMMITTING, None)
    if committed is not None:
        seal_of(engine).checkpoint(*committed)


def commit_staged(engine: Engine, info: dict[str, Any]) -> None:
    """Checkpoint what a transaction staged, once its COMMIT has succeeded (for a
    transaction run on the DBAPI connection, which SQLAlchemy's events do not see)."""
    staged = info.pop(_PENDING, None)
    if staged is not None:
        seal_of(engine).checkpoint(*staged)


def discard_staged(info: dict[str, Any]) -> None:
    """Forget what a transaction that rolled back (or failed to commit) staged."""
    info.pop(_PENDING, None)
    info.pop(_COMMITTING, None)
