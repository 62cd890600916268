"""Users' questions first: background re-answers wait while a user's question is being answered.

The service counts the questions under way (`Foreground.question()` around each answer); the
follows watcher marks its thread as background (its own asks are not counted) and waits for no
user question before each re-answer. A user's question that arrives meanwhile shares the CPU
with at most the one re-answer already started.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Foreground:
    """The user questions under way in this process."""

    def __init__(self):
        self._count = 0
        self._idle = threading.Condition()
        self._local = threading.local()

    @contextmanager
    def question(self) -> Iterator[None]:
        """Around one answer; a background thread's answers are not counted."""
        if getattr(self._local, "background", False):
            yield
            return
        with self._idle:
            self._count += 1
        try:
            yield
        finally:
            with self._idle:
                self._count -= 1
                if not self._count:
                    self._idle.notify_all()

    @contextmanager
    def background(self) -> Iterator[None]:
        """This thread's answers are background work."""
        self._local.background = True
        try:
            yield
        finally:
            self._local.background = False

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no user question is under way (at most `timeout` seconds, so that a steady
        stream of questions cannot starve the background for ever). Returns whether it is idle."""
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout)
