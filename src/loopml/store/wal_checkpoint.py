"""SQLite WAL checkpoints in a background thread, off the path of the commits that run
tracking makes.

In WAL mode a commit appends pages to the `-wal` file; a checkpoint copies them back into
the database file and, with `synchronous = NORMAL`, waits for two `fsync`s. SQLite runs it
inside whichever commit crosses `wal_autocheckpoint` pages, so one run in every few dozen
paid milliseconds for the disk while the others paid microseconds. The held write
connection (write_connection.py) now asks this thread for a PASSIVE checkpoint every
`EVERY_COMMITS` commits; a passive checkpoint never blocks writers or readers. The held
connection keeps an automatic checkpoint at `BACKSTOP_PAGES` in case this thread falls
behind, so the WAL stays bounded whatever happens.

Durability does not change: a commit is durable against the death of the process when it
returns, and a power loss may take back the commits since the last WAL sync, as before.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

EVERY_COMMITS = 64  # about 200 WAL pages of run tracking (~8 pages a commit)
BACKSTOP_PAGES = 10_000  # 40 MB of WAL at 4 KiB pages: SQLite's default is 1,000
_BUSY_TIMEOUT_MS = 5_000


class WalCheckpointer:
    """Runs `PRAGMA wal_checkpoint(PASSIVE)` on its own connection when asked."""

    def __init__(self, database: str) -> None:
        self.database = database
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._pid = os.getpid()
        self._commits = 0
        self.checkpoints = 0  # completed, for tests and benchmarks

    def committed(self) -> None:
        """Count a commit of the held connection; every `EVERY_COMMITS`, ask for a
        checkpoint (the caller holds the write lock, so the count needs none)."""
        self._commits += 1
        if self._commits % EVERY_COMMITS == 0:
            self.request()

    def request(self) -> None:
        """Ask for a checkpoint soon (starts the thread if none runs)."""
        with self._lock:
            if self._pid != os.getpid():  # a forked child: its parent's thread is not here
                self._thread, self._pid = None, os.getpid()
            if self._thread is None or not self._thread.is_alive():
                self._wanted, self._stop = threading.Event(), threading.Event()
                self._thread = threading.Thread(
                    target=self._loop,
                    args=(self._wanted, self._stop),
                    daemon=True,
                    name="loopml-wal-checkpoint",
                )
                self._thread.start()
            self._wanted.set()

    def _loop(self, wanted: threading.Event, stop: threading.Event) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                wanted.wait()
                wanted.clear()
                if stop.is_set():
                    return
                try:
                    if conn is None:
                        conn = sqlite3.connect(
                            self.database, isolation_level=None, check_same_thread=False
                        )
                        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    sync_database_file(self.database)
                    self.checkpoints += 1
                except sqlite3.Error:
                    # the next request retries; the backstop keeps the WAL bounded meanwhile
                    if conn is not None:
                        conn.close()
                    conn = None
        finally:
            if conn is not None:
                conn.close()

    def close(self) -> None:
        """Stop the thread after the checkpoint in progress, if any (a later request
        starts a new one)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
            self._wanted.set()
        if thread is not None and self._pid == os.getpid():
            thread.join(timeout=30)


# A passive checkpoint copies pages into the database file but syncs the file only when
# the WAL's end has not moved since the round began, and while the writer keeps committing
# it almost always has (the round's result does not tell): the pages pile up unsynced until
# the writer's own checkpoint at the backstop syncs them all, on its path (at a million runs
# up to 0.1 s of disk for scattered pages, a fifth of the writer's time). So the thread syncs
# the file after every round, usually with little left to write. It borrows a descriptor
# SQLite holds open: opening one of its own would mean closing it some day, and closing any
# descriptor of a file drops every POSIX lock this process holds on it, SQLite's included.
_OPEN_FILES = Path("/proc/self/fd")


def sync_database_file(database: str) -> bool:
    """fdatasync `database` through a descriptor this process already has open on it;
    False when there is none to borrow (or no /proc to find it by)."""
    try:
        wanted = os.path.realpath(database)
        with os.scandir(_OPEN_FILES) as entries:
            for entry in entries:
                try:
                    if os.readlink(entry.path) == wanted:
                        os.fdatasync(int(entry.name))
                        return True
                except OSError:  # closed meanwhile, or not a file: try the next one
                    continue
    except OSError:
        pass
    return False


def hold_pages(dbapi_connection: sqlite3.Connection) -> None:
    """Leave checkpoints of this connection's commits to the thread, up to the backstop."""
    dbapi_connection.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
