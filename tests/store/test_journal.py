"""LockedJournal: header once, appends tracked, orphans only once their writer is gone."""

from __future__ import annotations

from pathlib import Path

from loopml.store.journal import LockedJournal, orphaned_journals


def test_header_appends_and_orphans(tmp_path: Path) -> None:
    journal = LockedJournal(tmp_path / "a.log", b"header\n")
    assert journal.start == len(b"header\n")
    assert journal.append(b"one\n") == journal.start + 4
    assert list(orphaned_journals(tmp_path, ".log")) == []  # its writer holds the lock
    journal.close(remove=False)
    assert list(orphaned_journals(tmp_path, ".log")) == [tmp_path / "a.log"]
    reopened = LockedJournal(tmp_path / "a.log", b"header\n")  # the header is not repeated
    assert (tmp_path / "a.log").read_bytes() == b"header\none\n"
    reopened.close(remove=True)
    assert not (tmp_path / "a.log").exists()
    reopened.close(remove=True)  # closing twice is harmless
