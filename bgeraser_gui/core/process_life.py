"""Worker processes end with their parent (shared by the batch engine's and the server's
worker processes)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PARENT_WATCH_S = 0.5  # how often a worker process checks that its parent still lives
_PR_SET_PDEATHSIG = 1  # prctl(2) option (Linux)


def die_with_parent(parent_pid: int) -> None:
    """End this worker process as soon as its parent is gone (killed with SIGKILL too), so
    no orphan keeps writing outputs: the kernel's parent-death signal on Linux, plus a
    watch thread everywhere (it also covers the parent dying before the signal was armed)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the thread remains
            pass

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_WATCH_S)
        os._exit(1)

    threading.Thread(target=watch, name="bgeraser-parent-watch", daemon=True).start()
