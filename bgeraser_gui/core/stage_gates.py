"""Stage gates: the photos of a batch flow through the pipeline's stages like an assembly line.

A pipeline runs each photo through load (decode) -> segment (the network) -> refine (matting)
-> export (encode and write). Run one photo at a time, the machine idles in every stage that
cannot use all cores (decoding, matting, PNG encoding are mostly one thread; the network uses
them all). With gates, several photos are in flight, each stage works on at most `capacity`
of them at once, and the others wait at its gate in arrival order (a bounded queue: a photo
holds no stage while it waits, and at most one photo per lane is in flight). So while photo
k is refined, photo k+1 is segmented, photo k+2 decoded and photo k-1 written.

`Pipeline` enters a stage's gate around that stage (core/pipeline.py `stages`); the batch
engine gives every lane's pipeline the same `StageGates` (engines/local.py).
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Iterator

from bgeraser_gui.core.progress import CancelToken

STAGE_NAMES = ("load", "segment", "refine", "export")


class StageGate:
    """Admits `capacity` holders at a time, the others in the order they arrived (FIFO)."""

    def __init__(self, capacity: int = 1) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._lock = threading.Lock()
        self._free = capacity
        self._waiting: deque[threading.Event] = deque()

    def acquire(self) -> None:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait()  # `release` hands its place over to us

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._free += 1

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)


class StageGates:
    """One gate per stage name, each admitting `capacity` photos at a time. After `cancel`,
    a photo that gets its turn at a gate stops there (Cancelled) instead of starting the stage."""

    def __init__(
        self,
        capacity: int = 1,
        names: tuple[str, ...] = STAGE_NAMES,
        cancel: CancelToken | None = None,
    ) -> None:
        self._gates = {name: StageGate(capacity) for name in names}
        self._cancel = cancel

    @contextlib.contextmanager
    def enter(self, name: str) -> Iterator[None]:
        """Hold stage `name` for the duration of the block (waiting for a free place first).
        A stage without a gate is not limited."""
        gate = self._gates.get(name)
        if gate is None:
            yield
            return
        gate.acquire()
        try:
            if self._cancel is not None:
                self._cancel.check()
            yield
        finally:
            gate.release()

    def waiting(self, name: str) -> int:
        """How many photos wait at stage `name`'s gate now."""
        return self._gates[name].waiting
