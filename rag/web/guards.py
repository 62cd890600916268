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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class LoginAttempt:
    """One login attempt reserved by `LoginThrottle.reserve`: who tried which name, and when."""

    address: str
    name: str
    at: float


class LoginThrottle:
    """Slows down password guessing, per client address and per account name.

    An attempt at a name is counted (reserved) before the password is checked, so parallel guesses
    cannot all pass while the first ones are still being checked. After `free` failures from one address, or
    `name_free` against one name, within `window` seconds, the next attempt waits an exponentially
    growing delay (capped at `max_wait`). A success takes back only its own reservation and clears
    its own name's record: logging in to one's own account does not reset the count of guesses
    made from that address at someone else's. The name's allowance is larger than the address's,
    so a real user who mistypes is not the first one slowed down."""

    def __init__(self, free: int = 5, name_free: int = 10, window: float = 900.0, max_wait: float = 300.0,
                 clock=time.monotonic, max_keys: int = 10_000):
        self.free, self.name_free, self.window, self.max_wait, self.clock = free, name_free, window, max_wait, clock
        self.max_keys = max_keys
        self._attempts: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _name_key(name: str) -> tuple[str, str]:
        return ("name", name.strip().casefold()[:256])

    def _wait(self, key: tuple[str, str], free: int, now: float) -> float:
        recent = [t for t in self._attempts.get(key, []) if now - t < self.window]
        if recent:
            self._attempts[key] = recent
        else:
            self._attempts.pop(key, None)
        if len(recent) < free:
            return 0.0
        delay = min(self.max_wait, 2.0 ** (len(recent) - free))
        return max(0.0, max(recent) + delay - now)

    def reserve(self, address: str, name: str) -> tuple[float, LoginAttempt | None]:
        """(0, the attempt) when `address` may try `name` now, counted as failed until `finish`
        says otherwise; else (seconds to wait, None), and nothing is counted."""
        now = self.clock()
        keys = (("address", address), self._name_key(name))
        with self._lock:
            wait = max(self._wait(keys[0], self.free, now), self._wait(keys[1], self.name_free, now))
            if wait > 0:
                return wait, None
            # The name counts an attempt at once (parallel guesses at one password cannot all be
            # checked); the address counts failures, so colleagues behind one address may log in together.
            self._attempts.setdefault(keys[1], []).append(now)
            while len(self._attempts) > self.max_keys:  # a flood of addresses or names must not grow memory
                del self._attempts[next(iter(self._attempts))]
        return 0.0, LoginAttempt(address, name, now)

    def finish(self, attempt: LoginAttempt, succeeded: bool) -> None:
        """A failure counts for the address and stays counted for the name, its delay running from
        now (a slow check must not use up the wait); a success clears its name's record only (the
        address's failures stay)."""
        now = self.clock()
        name = self._name_key(attempt.name)
        with self._lock:
            if succeeded:
                self._attempts.pop(name, None)
                return
            self._attempts.setdefault(("address", attempt.address), []).append(now)
            mine = self._attempts.get(name)
            if mine and attempt.at in mine:
                mine.remove(attempt.at)
                mine.append(now)
