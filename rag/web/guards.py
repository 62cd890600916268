"""Checks on what a web client sends, before any of it reaches the service.

A browser only sends what the page's components produce, but anyone can post hand-made JSON to
Gradio's queue and API routes. Every value is therefore checked for its type and range here, and
a file path is accepted only when it lies in Gradio's upload folder, i.e. a client uploaded it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from rag.errors import RagError

TOP_K_RANGE = (1, 10)  # the UI slider's range; the API accepts the same


class BadRequest(RagError):
    """A request value of the wrong type or out of range; the message is shown to the client."""


def question_text(value: object) -> str:
    """The question must be text; its length and content are checked by the service."""
    if not isinstance(value, str):
        raise BadRequest("The question must be text.")
    return value


def history_pairs(value: object) -> list[tuple[str, str]]:
    """Earlier turns as [question, answer] pairs of text, or their JSON encoding."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise BadRequest("history must be a JSON list of [question, answer] pairs.") from None
    if not isinstance(value, list) or not all(
        isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(x, str) or x is None for x in pair)
        for pair in value
    ):
        raise BadRequest("history must be a list of [question, answer] pairs of text.")
    return [(u or "", a or "") for u, a in value]


def top_k(value: object, default: int) -> int:
    """A whole number in TOP_K_RANGE (numbers sent as text are accepted, as the slider sends floats)."""
    if value is None or value == "":
        return default
    low, high = TOP_K_RANGE
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"top_k must be a whole number from {low} to {high}.") from None
    if not number.is_integer() or not low <= number <= high:
        raise BadRequest(f"top_k must be a whole number from {low} to {high}.")
    return int(number)


def choice(value: object, allowed: Iterable[str], what: str) -> str:
    if not isinstance(value, str) or value not in set(allowed):
        raise BadRequest(f"Unknown {what}.")
    return value


def uploaded_paths(files: object, upload_folder: str | Path) -> list[Path]:
    """Paths of files a client uploaded: each must resolve to a regular file inside Gradio's upload
    folder (a hand-made request could name any server file instead)."""
    if not isinstance(files, list):
        files = [files]
    root = Path(upload_folder).resolve()
    paths = []
    for item in files:
        raw = item if isinstance(item, str) else getattr(item, "name", None) or getattr(item, "path", None)
        if not isinstance(raw, str):
            raise BadRequest("Uploads must be files sent through the upload button.")
        path = Path(raw)
        resolved = path.resolve()
        if not resolved.is_relative_to(root) or path.is_symlink() or not resolved.is_file():
            raise BadRequest("Uploads must be files sent through the upload button.")
        paths.append(resolved)
    return paths


class LoginThrottle:
    """Slows down password guessing: after `free` failed logins from one address within `window`
    seconds, that address waits an exponentially growing delay (capped at `max_wait`) before it
    may try again. A success clears its record. Addresses, not user names, so an attacker cannot
    lock the real user out by failing on purpose from elsewhere."""

    def __init__(self, free: int = 5, window: float = 900.0, max_wait: float = 300.0, clock=time.monotonic):
        self.free, self.window, self.max_wait, self.clock = free, window, max_wait, clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, address: str) -> float:
        """How long `address` must still wait before its next attempt (0: it may try now)."""
        now = self.clock()
        with self._lock:
            recent = [t for t in self._failures.get(address, []) if now - t < self.window]
            if recent:
                self._failures[address] = recent
            else:
                self._failures.pop(address, None)
        if len(recent) < self.free:
            return 0.0
        delay = min(self.max_wait, 2.0 ** (len(recent) - self.free))
        return max(0.0, recent[-1] + delay - now)

    def failed(self, address: str) -> None:
        with self._lock:
            self._failures.setdefault(address, []).append(self.clock())
            if len(self._failures) > 10_000:  # a flood of addresses must not grow memory without end
                oldest = min(self._failures, key=lambda a: self._failures[a][-1])
                del self._failures[oldest]

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)
