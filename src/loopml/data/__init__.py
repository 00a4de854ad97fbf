"""Dataset versions: content-hashed tables with schema, profile and lineage."""

from loopml.data.diff import DatasetDiff, diff_versions
from loopml.data.versions import DatasetService, DatasetVersion

__all__ = ["DatasetDiff", "DatasetService", "DatasetVersion", "diff_versions"]
