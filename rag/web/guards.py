"""Checks on what a web client sends, before any of it reaches the service.

A browser only sends what the page's components produce, but anyone can post hand-made JSON to
Gradio's queue and API routes. Every value is therefore checked for its type, size and range
here (lengths against the service's limits are checked by the service), and a file path is
accepted only when Gradio recorded it as uploaded by a client.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from rag.errors import RagError, checked_text

TOP_K_RANGE = (1, 10)  # the UI slider's range; the API accepts the same
MAX_UPLOAD_FILES = 20  # files in one upload


class BadRequest(RagError):
    """A request value of the wrong type or out of range; the message is shown to the client."""


def question_text(value: object, limit: int) -> str:
    """The question: text within the service's length limit (checked here too, because the chat
    shows the question before the service sees it)."""
    return checked_text(value, "question", limit)


def history_pairs(value: object) -> list[tuple[str, str]]:
    """Earlier turns as [question, answer] pairs of text, or their JSON encoding (how many and how
    long they may be is the service's check)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
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
    wrong = BadRequest(f"top_k must be a whole number from {low} to {high}.")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or isinstance(value, str) and len(value) > 20:
        raise wrong
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise wrong from None
    if not number.is_integer() or not low <= number <= high:
        raise wrong
    return int(number)


def choice(value: object, allowed: Iterable[str], what: str) -> str:
    if not isinstance(value, str) or value not in set(allowed):
        raise BadRequest(f"Unknown {what}.")
    return value


def uploaded_paths(files: object, uploaded: Callable[[str], bool]) -> list[Path]:
    """Paths of files a client uploaded: `uploaded(path)` says whether Gradio recorded the path as
    an upload (a hand-made request could name any server file, or a copy Gradio made of one).
    One message for every refusal, so that it tells nothing about the server's files."""
    if not isinstance(files, list):
        files = [files]
    if len(files) > MAX_UPLOAD_FILES:
        raise BadRequest(f"At most {MAX_UPLOAD_FILES} files at a time.")
    refused = BadRequest("Uploads must be files sent through the upload button.")
    paths = []
    for item in files:
        raw = item if isinstance(item, str) else getattr(item, "name", None) or getattr(item, "path", None)
        if not isinstance(raw, str) or not uploaded(raw):
            raise refused
        path = Path(raw)
        if path.is_symlink() or not path.is_file():
            raise refused
        paths.append(path)
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
