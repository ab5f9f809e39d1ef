"""Progress reporting and cooperative cancellation shared by every long-running stage."""

from __future__ import annotations

import threading
from collections.abc import Callable

from bgeraser_gui.core.errors import Cancelled

# progress(fraction in [0, 1], short message)
ProgressFn = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    """A ProgressFn that ignores everything."""


class CancelToken:
    """Thread-safe flag a worker polls; `check()` raises Cancelled once it is set.

    `event` may be any object with set()/is_set(), e.g. a multiprocessing Event shared with
    worker processes; by default a threading.Event."""

    def __init__(self, event=None) -> None:
        self._event = event if event is not None else threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")


def sub_progress(progress: ProgressFn, start: float, end: float) -> ProgressFn:
    """Map a stage's 0..1 progress into the [start, end] slice of an outer progress."""

    def report(fraction: float, message: str) -> None:
        progress(start + (end - start) * min(max(fraction, 0.0), 1.0), message)

    return report
