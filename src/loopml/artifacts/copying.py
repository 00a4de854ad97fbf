"""Copy a file inside the kernel (`copy_file_range`): no pass through Python's buffers.

On Linux this halves the memory traffic of storing a large file (the kernel copies page to
page instead of read-into-buffer then write-from-buffer), and filesystems that share
extents (XFS, Btrfs) make it a metadata operation. Where the call is missing or refused
(another filesystem, an old kernel, a non-Linux system) the caller copies the usual way.
"""

from __future__ import annotations

import errno
import os

# Errors that mean "not possible here", as opposed to a failing disk or a full one.
UNSUPPORTED = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF}
STEP = 1 << 30  # bytes per call; the loop runs until the source is exhausted


def copy_in_kernel(source_fd: int, target_fd: int) -> int | None:
    """Copy all of `source_fd` from its current offset; the bytes copied, or None when the
    kernel cannot do it here (nothing was written then)."""
    copy = getattr(os, "copy_file_range", None)
    if copy is None:
        return None
    copied = 0
    while True:
        try:
            n = copy(source_fd, target_fd, STEP)
        except OSError as exc:
            if copied == 0 and exc.errno in UNSUPPORTED:
                return None
            raise
        if n == 0:
            return copied
        copied += n
