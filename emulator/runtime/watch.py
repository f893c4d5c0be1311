"""Change notices for an action's source folders, so a warm pool knows its code changed without
looking at every file on every activation.

On Linux the kernel tells (inotify, through ctypes: no dependency): asking costs one non-blocking
read. An event is only a hint that something may have changed; the pool then compares its
snapshot of stats as before, so a spurious event costs a look (the watch is set before the snapshot
is taken). Some changes send no event (a file edited through a symlink into an unwatched folder, a
network filesystem changed by another machine): the pool also compares the stats when its last look
is older than `pool.STAT_EVERY`. Where inotify is missing or refuses a folder,
`FolderWatch.open` returns None and the pool looks at every file each time, as it did before.
"""
from __future__ import annotations

import ctypes
import os
import weakref
from collections.abc import Iterable

# <sys/inotify.h>: whatever changes a folder's listing or a file in it.
_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE = 0x2, 0x4, 0x8
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF = 0x400, 0x800
_MASK = (_IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE
         | _IN_DELETE | _IN_DELETE_SELF | _IN_MOVE_SELF)


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the C library the interpreter is linked with
        libc.inotify_init1, libc.inotify_add_watch  # noqa: B018 - present on Linux only
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


class FolderWatch:
    """An inotify descriptor watching some folders; `changed()` says whether anything happened
    in them since the last call. The descriptor is closed by `close()`, or when the watch is
    collected (a pool dropped without shutdown)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._close = weakref.finalize(self, os.close, fd)

    @classmethod
    def open(cls, folders: Iterable[str]) -> FolderWatch | None:
        if _LIBC is None:
            return None
        fd = _LIBC.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            return None
        watch = cls(fd)
        for folder in folders:
            if _LIBC.inotify_add_watch(fd, os.fsencode(folder), _MASK) < 0:
                watch.close()  # a folder that vanished, or the watch limit: look at the files instead
                return None
        return watch

    def changed(self) -> bool:
        """True if an event arrived (all pending ones are consumed). A closed watch reports a change."""
        if self._fd < 0:
            return True
        seen = False
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return seen
            except OSError:
                return True
            if not data:
                return True
            seen = True

    def close(self) -> None:
        self._close()  # closes the descriptor once
        self._fd = -1
