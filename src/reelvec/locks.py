"""OS file locks that say who holds them: the home's writer lock and the embedded shards' locks.

A refused writer must touch nothing, so every writer takes its lock *before* it opens anything
it could change (a Qdrant Edge shard rewrites files inside itself even when its own WAL lock then
refuses the load). The locks are `flock` locks on small files: the kernel releases them when the
holder exits, however it exits (kill -9 included), so a crash never leaves a stale lock behind.

* ``<home>/writer.lock``: one writer of the home at a time (live edits, the swap and replay of a
  build or reindex, rollback, restore). Readers never take it.
* ``<store>/collections/<name>.lock``: one process with shard ``<name>`` open (`EdgeStore`).

The holder writes ``pid``, what it does and since when into the file, so a refused writer's error
names it. Locks are re-entrant inside one process (a build that holds the writer lock may call
code that takes it again) and can wait (``wait`` seconds, polling) instead of failing at once.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from reelvec.errors import StoreError

WRITER_LOCK = "writer.lock"  # in the home folder


class LockedError(StoreError):
    """Another process holds the lock (the message names it and how to wait)."""


_held: dict[str, list] = {}  # resolved path -> [fd, depth, owning thread]
_guard = threading.Lock()


def holder(path: str | Path) -> dict:
    """What the lock file says about its holder ({} when it says nothing readable)."""
    try:
        data = json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(info: dict) -> str:
    if not info.get("pid"):
        return "another process"
    since = time.strftime("%H:%M:%S", time.localtime(info["since"])) if info.get("since") else "?"
    return f"PID {info['pid']} ({info.get('what') or 'a writer'}, since {since})"


def _command() -> str:
    argv = [os.path.basename(sys.argv[0] or "python")] + sys.argv[1:3]
    return " ".join(argv)[:80]


@contextlib.contextmanager
def file_lock(path: str | Path, wait: float = 0.0, what: str | None = None, fix: str = "") -> Iterator[None]:
    """Hold an exclusive lock on `path` for the block. Waits up to `wait` seconds for another
    holder, then raises `LockedError` naming it. Re-entrant in one process and thread."""
    path = Path(path)
    key = str(path.resolve())
    me = threading.get_ident()
    with _guard:
        entry = _held.get(key)
        if entry is not None and entry[2] == me:
            entry[1] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _guard:
                _held[key][1] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + max(0.0, wait)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise StoreError(f"cannot lock {path}: {exc}") from exc
                if time.monotonic() >= deadline:
                    raise LockedError(f"{path.parent} is being written by {_describe(holder(path))}; "
                                      f"{fix or 'wait for it to finish'}"
                                      f"{'' if wait else ', or pass --wait SECONDS to wait for it'}") from None
                time.sleep(0.05)
    except BaseException:
        os.close(fd)
        raise
    try:
        info = json.dumps({"pid": os.getpid(), "what": what or _command(), "since": time.time()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)
    except OSError:  # a full disk: the lock holds all the same, only its note is missing
        pass
    with _guard:
        _held[key] = [fd, 1, me]
    try:
        yield
    finally:
        with _guard:
            _held.pop(key, None)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # releases the flock


def is_held_here(path: str | Path) -> bool:
    """True when this process (any thread) holds the lock on `path`."""
    with _guard:
        return str(Path(path).resolve()) in _held


class ShardLocks:
    """The shard locks one `EdgeStore` holds: taken before a shard is opened, released when it
    is closed (or the process ends)."""

    def __init__(self, wait: float = 0.0):
        self.wait = wait
        self._stacks: dict[str, contextlib.ExitStack] = {}

    def take(self, path: Path, what: str) -> None:
        if str(path) in self._stacks:
            return
        stack = contextlib.ExitStack()
        stack.enter_context(file_lock(path, self.wait, what,
                                      fix="wait for it to finish or pass --store elsewhere"))
        self._stacks[str(path)] = stack

    def release(self, path: Path) -> None:
        stack = self._stacks.pop(str(path), None)
        if stack is not None:
            stack.close()

    def release_all(self) -> None:
        for p in list(self._stacks):
            self.release(Path(p))
