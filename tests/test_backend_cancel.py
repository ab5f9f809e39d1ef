"""Cancel inside the network: a token set from another thread while the real ISNet runs stops
the inference within one convolution (torch) or through ONNX Runtime's terminate flag, and the
backend keeps working afterwards. Progress is measured in convolutions, never in seconds."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from bgeraser_gui.backends.cancel_scope import (
    cancel_scope,
    check_current,
    current_token,
    install_convolution_checks,
    remove_convolution_checks,
)
from bgeraser_gui.backends.loader import load_backend
from bgeraser_gui.backends.model_io import InputSpec
from bgeraser_gui.backends.segmenter import FAST
from bgeraser_gui.backends.torch_backend import TorchSegmenter
from bgeraser_gui.backends.u2net import U2Net
from bgeraser_gui.core.errors import Cancelled
from bgeraser_gui.core.progress import CancelToken

TRIGGER_AT = 12  # the other thread cancels once this many convolutions have run


class ConvCounter:
    """Counts finished convolutions; at `trigger` it lets another thread cancel `token` and
    waits until it has (so the cancel lands during the inference, whatever the machine load)."""

    def __init__(self, network: nn.Module, token: CancelToken | None = None, trigger: int = 0):
        self.count = 0
        self.token = token
        self.trigger = trigger
        self.reached = threading.Event()
        self.cancelled = threading.Event()
        self.handles = [
            module.register_forward_hook(self._after_conv)
            for module in network.modules()
            if isinstance(module, nn.Conv2d)
        ]

    def _after_conv(self, _module, _inputs, _output) -> None:
        self.count += 1
        if self.token is not None and self.count == self.trigger:
            self.reached.set()
            assert self.cancelled.wait(30), "the cancelling thread never ran"

    def cancel_from_another_thread(self) -> threading.Thread:
        def run() -> None:
            self.reached.wait(60)
            self.token.cancel()
            self.cancelled.set()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


@pytest.fixture(scope="module")
def photo(eval_dir) -> np.ndarray:
    path = eval_dir / "grabcut50" / "images" / "person1.jpg"
    return np.asarray(Image.open(path).convert("RGB"))


def test_torch_isnet_stops_within_one_convolution(isnet_fp16_path, photo):
    backend = load_backend(str(isnet_fp16_path), runtime="torch", options=FAST)
    assert backend.runtime == "torch"
    counter = ConvCounter(backend.network)
    try:
        reference = backend.predict(photo)
        full = counter.count
        counter.count = 0
        token = CancelToken()
        counter.token, counter.trigger = token, TRIGGER_AT
        thread = counter.cancel_from_another_thread()
        with pytest.raises(Cancelled):
            backend.predict(photo, cancel=token)
        thread.join(10)
        print(
            f"ISNet torch ({backend.precision}): a full inference runs {full} convolutions; "
            f"cancelled after {counter.count} (cancel set after {TRIGGER_AT})"
        )
        assert full > 100  # ISNet: 114 convolutions per pass
        assert counter.count == TRIGGER_AT

        counter.token, counter.count = None, 0
        again = backend.predict(photo, cancel=CancelToken())
        assert counter.count == full
        np.testing.assert_allclose(again, reference, atol=1e-6)
    finally:
        counter.remove()


def test_onnxruntime_isnet_run_is_terminated(isnet_fp16_path, photo):
    pytest.importorskip("onnxruntime")
    backend = load_backend(str(isnet_fp16_path), runtime="onnxruntime", options=FAST)
    real_session = backend.session
    token = CancelToken()
    calls: list[str] = []

    class CancellingSession:
        """The real session; once a run is under way, another thread cancels the token."""

        def __getattr__(self, name):
            return getattr(real_session, name)

        def run(self, outputs, feed, run_options=None):
            canceller = threading.Timer(0.05, token.cancel)
            canceller.start()
            try:
                result = real_session.run(outputs, feed, run_options)
            except Exception:
                calls.append("raised")
                raise
            finally:
                canceller.join()
            calls.append("returned")
            return result

    backend.session = CancellingSession()
    try:
        with pytest.raises(Cancelled):
            backend.predict(photo, cancel=token)
        print(f"ONNX Runtime session.run under a cancel: {calls}")
        assert calls == ["raised"]  # stopped inside the run, not after it
        backend.session = real_session
        mask = backend.predict(photo, cancel=CancelToken())
        assert mask.shape == photo.shape[:2] and mask.max() > 0.5
    finally:
        backend.session = real_session


def _tiny_backend() -> TorchSegmenter:
    torch.manual_seed(0)
    network = U2Net(small=True).eval()
    spec = InputSpec(64, (0.5, 0.5, 0.5), (1.0, 1.0, 1.0), "minmax")
    return TorchSegmenter(network, "tiny", "cpu", "fp32", spec, FAST)


def test_hooks_are_inert_outside_a_scope_and_installed_once():
    backend = _tiny_backend()
    hooked = install_convolution_checks(backend.network)  # a second call adds nothing
    assert hooked == sum(isinstance(m, nn.Conv2d) for m in backend.network.modules())
    cancelled = CancelToken()
    cancelled.cancel()
    batch = np.zeros((1, 3, 64, 64), np.float32)
    assert backend._run(batch).shape == (1, 64, 64)  # no scope: nothing to cancel
    with cancel_scope(cancelled), pytest.raises(Cancelled):
        backend._run(batch)
    assert current_token() is None
    remove_convolution_checks(backend.network)
    with cancel_scope(cancelled):
        assert backend._run(batch).shape == (1, 64, 64)  # hooks removed


def test_a_cancel_only_stops_the_thread_it_belongs_to():
    backend = _tiny_backend()
    rgb = np.full((40, 50, 3), 128, np.uint8)
    cancelled = CancelToken()
    cancelled.cancel()
    results: dict[str, object] = {}
    ready = threading.Barrier(2)

    def other_thread() -> None:
        ready.wait(10)
        results["other"] = backend.predict(rgb, cancel=CancelToken())

    thread = threading.Thread(target=other_thread)
    thread.start()
    with cancel_scope(cancelled):
        ready.wait(10)
        with pytest.raises(Cancelled):
            check_current()
    thread.join(60)
    assert results["other"].shape == (40, 50)


def test_nested_scopes_restore_the_outer_token():
    outer, inner = CancelToken(), CancelToken()
    with cancel_scope(outer):
        with cancel_scope(inner):
            assert current_token() is inner
        assert current_token() is outer
    assert current_token() is None
