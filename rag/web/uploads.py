"""Files waiting in Gradio's upload folder: whose they are, how much each user holds, and when
they go.

Gradio's upload route stores every file it receives and never deletes it, so a user who may
upload could fill the disk. `UploadLedger` records which user stored which file; a user may hold
at most `quota` bytes that have not been indexed yet (a request is refused when its declared size
does not fit). A file leaves when it is indexed (`discard`) or, never indexed, when it is older
than `max_age` seconds (`sweep`, at start and then on a timer); what a user holds is counted from
the files still on disk, so every way a file goes frees its bytes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, MutableSet
from pathlib import Path


class UploadLedger:
    """Who stored which upload, and the per-user quota (see the module docstring)."""

    def __init__(self, folder: str | Path, quota: int, max_age: float, recorded: MutableSet[str] | None = None,
                 clock=time.time):
        """`recorded`: Gradio's set of uploaded paths (`Blocks.upload_file_set`), kept in step."""
        self.folder, self.quota, self.max_age, self.clock = Path(folder), quota, max_age, clock
        self.recorded = recorded if recorded is not None else set()
        self._files: dict[str, dict[str, int]] = {}  # user -> {path: bytes}
        self._pending: dict[str, int] = {}  # user -> bytes of uploads still being received
        self._lock = threading.Lock()

    def _held(self, user: str) -> int:
        files = self._files.get(user, {})
        for path in [p for p in files if not os.path.exists(p)]:
            del files[path]
        return sum(files.values()) + self._pending.get(user, 0)

    def reserve(self, user: str, size: int) -> int | None:
        """Hold `size` bytes for an upload `user` is sending: None when it fits (call `stored`
        after it), else how many bytes the user may still send."""
        with self._lock:
            free = self.quota - self._held(user)
            if size > free:
                return max(0, free)
            self._pending[user] = self._pending.get(user, 0) + size
            return None

    def stored(self, user: str, size: int, paths: Iterable[str]) -> None:
        """The upload of `size` reserved bytes ended; `paths` are the files it stored."""
        with self._lock:
            self._pending[user] = self._pending.get(user, 0) - size
            if self._pending[user] <= 0:
                del self._pending[user]
            files = self._files.setdefault(user, {})
            for path in paths:
                try:
                    files[str(path)] = os.path.getsize(path)
                except OSError:
                    continue

    def discard(self, paths: Iterable[str | Path]) -> None:
        """Delete uploads once they are indexed (or refused): the corpus holds its own copy."""
        for path in paths:
            self._remove(Path(path))

    def sweep(self) -> int:
        """Delete every file in the upload folder older than `max_age` (an upload never indexed,
        also one left by an earlier run), and the folders left empty. Returns how many went."""
        if not self.folder.is_dir():
            return 0
        cutoff = self.clock() - self.max_age
        removed = 0
        for root, dirs, names in os.walk(self.folder, topdown=False):
            for name in names:
                path = Path(root) / name
                try:
                    if path.lstat().st_mtime < cutoff:
                        removed += self._remove(path)
                except OSError:
                    continue
            for name in dirs:
                try:
                    (Path(root) / name).rmdir()  # only when empty
                except OSError:
                    pass
        return removed

    def _remove(self, path: Path) -> bool:
        self.recorded.discard(str(path))
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        if path.parent != self.folder:
            try:
                path.parent.rmdir()  # Gradio stores each upload in a folder of its own
            except OSError:
                pass
        return True
