"""Cancelling a segmentation while the network runs, not only between passes.

`Segmenter.predict` runs inside `cancel_scope(token)`, which makes the token current for the
calling thread. The torch backend puts a forward pre-hook on every convolution of its network
(`install_convolution_checks`): the hook raises Cancelled as soon as the current token is set, so
an inference stops within one convolution (ISNet runs 114 per pass) instead of finishing its
1-12 s. The hooks read a thread-local, so a network shared by several backends and threads only
ever sees the token of the thread that runs it, and they do nothing outside a scope (warm-up,
benchmarks).
The ONNX Runtime backend watches the same token while `session.run` is in flight and sets
ONNX Runtime's own terminate flag (`terminate_on_cancel`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from bgeraser_gui.core.errors import Cancelled
from bgeraser_gui.core.progress import CancelToken

_HOOKS_ATTRIBUTE = "_bgeraser_cancel_hooks"
WATCH_INTERVAL_S = 0.02

_local = threading.local()


def current_token() -> CancelToken | None:
    """The token of the innermost `cancel_scope` on this thread, or None."""
    return getattr(_local, "token", None)


def check_current() -> None:
    """Raise Cancelled if this thread's current token is set; nothing outside a scope."""
    token = current_token()
    if token is not None:
        token.check()


@contextlib.contextmanager
def cancel_scope(token: CancelToken | None) -> Iterator[None]:
    """Make `token` current for this thread (None: nothing can cancel) while the block runs."""
    previous = current_token()
    _local.token = token
    try:
        yield
    finally:
        _local.token = previous


def install_convolution_checks(network) -> int:
    """Put a cancel check before every Conv2d of `network` (once; later calls do nothing).

    Returns the number of hooked convolutions. The hooks are inert outside a `cancel_scope`.
    """
    from torch import nn

    handles = getattr(network, _HOOKS_ATTRIBUTE, None)
    if handles is None:
        handles = [
            module.register_forward_pre_hook(_conv_pre_hook)
            for module in network.modules()
            if isinstance(module, nn.Conv2d)
        ]
        setattr(network, _HOOKS_ATTRIBUTE, handles)
    return len(handles)


def remove_convolution_checks(network) -> None:
    """Undo `install_convolution_checks`."""
    for handle in getattr(network, _HOOKS_ATTRIBUTE, None) or ():
        handle.remove()
    if hasattr(network, _HOOKS_ATTRIBUTE):
        delattr(network, _HOOKS_ATTRIBUTE)


def _conv_pre_hook(_module, _inputs) -> None:
    check_current()


@contextlib.contextmanager
def terminate_on_cancel(run_options) -> Iterator[None]:
    """While the block runs, a watcher thread sets `run_options.terminate` (ONNX Runtime's
    RunOptions) as soon as this thread's current token is cancelled. Without a token it does
    nothing. After the block, a set token raises Cancelled."""
    token = current_token()
    if token is None:
        yield
        return
    done = threading.Event()

    def watch() -> None:
        while not done.wait(WATCH_INTERVAL_S):
            if token.cancelled:
                run_options.terminate = True
                return

    watcher = threading.Thread(target=watch, name="bgeraser-ort-cancel", daemon=True)
    watcher.start()
    try:
        yield
    except Exception as exc:
        if token.cancelled:
            raise Cancelled("cancelled") from exc
        raise
    finally:
        done.set()
        watcher.join()
    token.check()
