"""One node per SQLite file: a node (and ``projections rebuild``) holds an exclusive
advisory lock on ``FILE.node-lock`` for as long as it runs. A second one on the same
file is refused with a clear message instead of serving a file another node serves
(it would show every station disconnected while the first serves them). The lock
goes with the process, however it ends (``flock`` is released by the kernel)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO

from chargeledger.errors import StoreError


class FileInUseError(StoreError):
    """Another process holds the file's node lock."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is in use by another chargeledger process ({holder})")
        self.path = path
        self.holder = holder


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".node-lock")


def hold_node_lock(database: Path, role: str) -> IO[str]:
    """Take the file's node lock for this process (keep the returned handle open);
    ``FileInUseError`` names who holds it."""
    path = lock_path(database)
    handle = open(path, "a+")  # noqa: SIM115 - held for the process's lifetime
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise FileInUseError(database, holder) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{role}, pid {os.getpid()}")
    handle.flush()
    return handle


def release(handle: IO[str]) -> None:
    with contextlib.suppress(OSError):
        handle.close()
