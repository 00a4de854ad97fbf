"""Dataset versions: content-hashed tables with schema, profile and lineage."""

from loopml.data.diff import DatasetDiff, diff_versions
from loopml.data.reads import DatasetRead, note_read, recording_reads
from loopml.data.versions import DatasetService, DatasetVersion

__all__ = [
    "DatasetDiff",
    "DatasetRead",
    "DatasetService",
    "DatasetVersion",
    "diff_versions",
    "note_read",
    "recording_reads",
]
