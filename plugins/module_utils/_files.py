# -*- coding: utf-8 -*-
# Copyright: sigcalcloud.cloud contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reading a local file the collection did not make (a profile file, a state file) safely.

Only a regular file is read, and never more than a cap: a FIFO with no writer would hang
a task for ever, and a link to /dev/zero would read until memory is gone.
"""

from __future__ import annotations

import os
import stat
from typing import Optional, Tuple

# Open without blocking (a FIFO with no writer would wait forever) and without taking a
# terminal as the controlling one; what the open file is, is then asked of the open fd.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


class FileRefused(ValueError):
    """The file is not a regular file, or is over the cap. The message follows the path:
    "is a FIFO, not a regular file", "is larger than 1 MiB"."""

    def __init__(self, message: str, too_large: bool = False) -> None:
        super(FileRefused, self).__init__(message)
        self.too_large = too_large


def file_kind(mode: int) -> str:
    """What a file of ``mode`` is, for a message: "a FIFO", "a character device"..."""
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a regular file")):
        if test(mode):
            return kind
    return "an unknown kind of file"


def size_text(max_bytes: int) -> str:
    return "%d MiB" % (max_bytes >> 20) if max_bytes >= 1 << 20 and not max_bytes % (1 << 20) else "%d bytes" % max_bytes


def read_regular_file(path: str, max_bytes: int) -> Tuple[Optional[bytes], Optional[int]]:
    """``(bytes, mode)`` of the regular file ``path``, or ``(None, None)`` when it does not exist.

    Raises FileRefused for anything but a regular file of at most ``max_bytes`` (checked on
    the open file, so nothing can swap it between a check and the read, and counted while
    reading, so a file that grows is refused too), and OSError when it cannot be read.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        return None, None
    except OSError:
        try:  # a socket cannot be opened (ENXIO): name what it is rather than the errno
            mode = os.stat(path).st_mode
        except OSError:
            mode = None
        if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            raise FileRefused("is %s, not a regular file" % file_kind(mode))
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused("is %s, not a regular file" % file_kind(info.st_mode))
        too_large = FileRefused("is larger than %s" % size_text(max_bytes), too_large=True)
        if info.st_size > max_bytes:
            raise too_large
        chunks, size = [], 0
        while size <= max_bytes:  # read one byte past the cap: the file may grow after fstat
            chunk = os.read(fd, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise too_large
    finally:
        os.close(fd)
    return b"".join(chunks), info.st_mode
