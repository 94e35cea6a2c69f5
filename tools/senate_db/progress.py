"""A text progress bar on stderr, with no dependency.

Drawn in place (``\\r``) only when the stream is a terminal; elsewhere (CI logs, pipes) it stays
silent, so logs never fill with redraws. Usage::

    with Progress("loading", total=42) as bar:
        for day in days:
            ...
            bar.advance(note=str(day))
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

WIDTH = 28


class Progress:
    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self._last_len = 0

    def __enter__(self) -> Progress:
        self._draw("")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.clear()

    def advance(self, step: int = 1, note: str = "") -> None:
        self.done = min(self.done + step, self.total)
        self._draw(note)

    def line(self, note: str = "") -> str:
        """The bar as text, e.g. ``loading [#######.......] 21/42 3.1s 2026-05-01``."""
        filled = round(WIDTH * self.done / self.total)
        elapsed = time.monotonic() - self.started
        bar = "#" * filled + "." * (WIDTH - filled)
        text = f"{self.label} [{bar}] {self.done}/{self.total} {elapsed:.1f}s"
        return f"{text} {note}".rstrip()

    def _draw(self, note: str) -> None:
        if not self.enabled:
            return
        text = self.line(note)
        pad = " " * max(self._last_len - len(text), 0)
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self._last_len = len(text)

    def clear(self) -> None:
        """Erase the bar (call before printing ordinary lines to the same terminal)."""
        if self.enabled and self._last_len:
            self.stream.write("\r" + " " * self._last_len + "\r")
            self.stream.flush()
            self._last_len = 0
