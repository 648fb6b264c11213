"""A small, dependency-free progress bar for long terminal runs.

It draws on standard error only, and only when that is a terminal: piped or redirected
output, CI logs and machine-readable output modes (json, markdown, dot, svg) never see it.
Commands pass ``enabled=False`` for those modes; ``enabled=None`` means "decide from the
stream". A run that finishes quickly draws nothing (``delay``), and a bar with fewer than
``min_total`` steps is never drawn: a few files do not need one.

Usage::

    with Progress(len(files), "reading", enabled=args.output == "text") as bar:
        for f in files:
            ...
            bar.advance()

or ``for f in track(files, "reading", enabled=...)``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from types import TracebackType
from typing import IO, TypeVar

T = TypeVar("T")

#: Below this many steps no bar is drawn ("more than a few hundred objects").
DEFAULT_MIN_TOTAL = 300
#: Nothing is drawn before this many seconds have passed (no flicker on fast runs).
DEFAULT_DELAY = 0.3
#: Redraw at most this often (seconds).
REFRESH = 0.1


def stream_is_terminal(stream: IO[str]) -> bool:
    """True when ``stream`` is an interactive terminal (and ``TERM`` is not ``dumb``)."""
    try:
        return bool(stream.isatty()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


class Progress:
    """A one-line bar ``label [#####.....] done/total pct%`` redrawn in place on stderr."""

    def __init__(self, total: int, label: str, *, enabled: bool | None = None,
                 stream: IO[str] | None = None, min_total: int = DEFAULT_MIN_TOTAL,
                 delay: float | None = None, width: int = 30,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = max(int(total), 0)
        self.label = label
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = True
        self.active = (enabled and self.total >= max(min_total, 1)
                       and stream_is_terminal(self.stream))
        self._delay = DEFAULT_DELAY if delay is None else delay
        self._width = width
        self._clock = clock
        self._started = clock()
        self._last_draw = float("-inf")
        self._drawn = False

    def advance(self, steps: int = 1) -> None:
        """Count ``steps`` more steps done, redrawing when due."""
        self.done = min(self.done + steps, self.total)
        if not self.active:
            return
        now = self._clock()
        if now - self._started < self._delay:
            return
        if now - self._last_draw >= REFRESH or self.done == self.total:
            self._draw()
            self._last_draw = now

    def render(self) -> str:
        """The bar's text (without the carriage return)."""
        fraction = self.done / self.total if self.total else 1.0
        filled = int(fraction * self._width)
        bar = "#" * filled + "." * (self._width - filled)
        return f"{self.label} [{bar}] {self.done}/{self.total} {int(fraction * 100):3d}%"

    def _draw(self) -> None:
        self.stream.write("\r" + self.render())
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Erase the bar (the line is left clean for the output that follows)."""
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._drawn = False
        self.active = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def track(items: Iterable[T], label: str, *, total: int | None = None,
          enabled: bool | None = None, stream: IO[str] | None = None,
          min_total: int = DEFAULT_MIN_TOTAL, delay: float | None = None) -> Iterator[T]:
    """Iterate over ``items`` with a :class:`Progress` (``total`` defaults to ``len``)."""
    if total is None:
        total = len(items) if isinstance(items, Sized) else 0
    with Progress(total, label, enabled=enabled, stream=stream, min_total=min_total,
                  delay=delay) as bar:
        for item in items:
            yield item
            bar.advance()
