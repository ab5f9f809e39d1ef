"""The runtime-independent part of a segmentation backend: resize in, optional flip averaging,
optional second pass on the subject, clean-up and edge snapping, resize out.

Engines (torch, ONNX Runtime) subclass `Segmenter` and implement `_run` on a normalised batch.
`predict` runs inside `cancel_scope(cancel)`, so runtimes can also stop inside a network pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from bgeraser_gui.backends import postprocess
from bgeraser_gui.backends.cancel_scope import cancel_scope
from bgeraser_gui.backends.detail_pass import detail_pass
from bgeraser_gui.backends.model_io import (
    InputSpec,
    mask_from_output,
    network_input,
    resize_prediction,
)
from bgeraser_gui.core.progress import CancelToken, ProgressFn, no_progress

WARM_UP_SIZE = 256


@dataclass(frozen=True)
class QualityOptions:
    """Which quality steps run after the network. `rembg_exact` reproduces rembg bit for bit
    (8-bit mask before the resize); the others are the improvements measured by
    benchmarks/quality.py, on by default only where they helped there."""

    rembg_exact: bool = False
    flip_tta: bool = False
    crop_pass: bool = False
    crop_max_fill: float = 0.3  # second pass when the subject box covers less of the frame
    crop_margin: float = 0.1
    clean_regions: bool = False
    snap_edges: bool = False
    detail_pass: bool = False  # second look at undecided parts of large photos (detail_pass.py)
    # The network sees the photo at its own aspect ratio (model_io "fit") instead of squeezed
    # into the square input, for models whose input is "stretch" and runtimes that take any
    # input size: less computation for every photo that is not square.
    fit_input: bool = False
    flip_side: int = 0  # long side of the flip pass's input (0: that of the first pass)

    def replace(self, **changes) -> QualityOptions:
        return dataclasses.replace(self, **changes)


RAW = QualityOptions(rembg_exact=True)
# Measured with benchmarks/quality.py (ISNet general-use, mean IoU / SAD): flip averaging
# raised IoU by 1.2 (grabcut50) and 1.4 (alphamatting_train27) points and lowered SAD; the
# region clean-up added 0.0002 / 0.0034 IoU on top (SAD +0.26 on alphamatting). The crop pass
# lost 3.5 points on davis345_sub and edge snapping lowered IoU and raised SAD: both opt-in.
# The detail pass runs only on photos at least 1.5x the network's size (none in the eval sets):
# on the 6 MP bike it draws the front brake rotor the first look left at 0.2-0.4 (rim median
# 0.09 -> 0.84 in the export) for one more network pass (segment CPU 16.6 -> 23.7 s).
IMPROVED = QualityOptions(flip_tta=True, clean_regions=True, detail_pass=True)
# One network pass and no post-processing: half the time of IMPROVED, for previews and for
# batches where throughput matters more than the last IoU point.
FAST = QualityOptions()
QUALITY_PRESETS = {"best": IMPROVED, "fast": FAST, "rembg": RAW}


def as_rgb(image: np.ndarray) -> np.ndarray:
    """Accept HxW gray, HxWx3 RGB or HxWx4 RGBA uint8; return HxWx3 uint8."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {arr.dtype}")
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        return arr[:, :, :3]
    raise ValueError(f"expected HxW, HxWx3 or HxWx4, got shape {arr.shape}")


class Segmenter:
    """SegmentationBackend implementation shared by all runtimes."""

    name: str
    device: str
    any_input_size = True  # the runtime takes inputs of any height and width ("fit")

    def __init__(self, name: str, device: str, spec: InputSpec, options: QualityOptions) -> None:
        self.name = name
        self.device = device
        self.spec = spec
        self.options = options

    # --- runtime hook -------------------------------------------------------------------------
    def _run(self, batch: np.ndarray) -> np.ndarray:
        """N x 3 x S x S float32 -> N x S x S float32 raw network output."""
        raise NotImplementedError

    @property
    def input_spec(self) -> InputSpec:
        """The model's preprocessing; in rembg-exact mode rembg's: always stretched, with its
        arithmetic (model_io.InputSpec.rembg_arithmetic)."""
        if self.options.rembg_exact:
            return dataclasses.replace(self.spec, resize="stretch", rembg_arithmetic=True)
        if self.options.fit_input and self.spec.resize == "stretch" and self.any_input_size:
            return dataclasses.replace(self.spec, resize="fit")
        return self.spec

    # --- public API ----------------------------------------------------------------------------
    def warm_up(self) -> None:
        """One small inference so that the first real one does not pay for lazy set-up."""
        size = WARM_UP_SIZE
        self._run(np.zeros((1, 3, size, size), np.float32))

    def predict(
        self,
        rgb: np.ndarray,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> np.ndarray:
        with cancel_scope(cancel):
            return self._predict(rgb, progress or no_progress, cancel)

    def predict_passes(
        self,
        rgb: np.ndarray,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> tuple[np.ndarray, Callable[[], np.ndarray] | None]:
        """`predict`'s mask, and with flip averaging a function that builds the first pass's
        own mask (as `fast` quality gives it) from its network-size output, kept from the same
        run: no second network call. None without flip averaging or with the crop pass."""
        kept: list[np.ndarray] = []
        with cancel_scope(cancel):
            mask = self._predict(rgb, progress or no_progress, cancel, kept)
        if not kept or self.options.crop_pass:
            return mask, None
        height, width = mask.shape
        return mask, partial(
            mask_from_output, kept[0], width, height, self.spec.output,
            self.options.rembg_exact, self.input_spec.resize,
        )  # fmt: skip

    def _predict(self, rgb, progress: ProgressFn, cancel: CancelToken | None, kept=None):
        check = cancel.check if cancel is not None else (lambda: None)
        rgb = as_rgb(rgb)
        height, width = rgb.shape[:2]
        options = self.options
        check()
        progress(0.0, "Finding the subject")
        mask = self._mask(rgb, progress, 0.0, 0.6 if options.crop_pass else 0.9, check, kept)
        if options.crop_pass:
            mask = self._crop_pass(rgb, mask, progress, check)
        if options.detail_pass and not options.rembg_exact:
            progress(0.9, "Looking closer where the model hesitates")
            mask = detail_pass(rgb, mask, self._one_pass_mask, self.input_spec.size, check)
        check()
        if options.clean_regions:
            progress(0.92, "Cleaning specks and holes")
            mask = postprocess.remove_small_regions(mask)
        if options.snap_edges:
            progress(0.95, "Snapping edges")
            mask = postprocess.snap_edges(rgb, mask)
        progress(1.0, "Subject found")
        return np.ascontiguousarray(mask, dtype=np.float32)

    def predict_once(self, rgb: np.ndarray, cancel: CancelToken | None = None) -> np.ndarray:
        """One network pass and nothing else (no flip averaging, crop pass or clean-up),
        whatever the quality options: what click-to-select asks about crops, where the
        graph cut settles the edges and the answer must come fast."""
        with cancel_scope(cancel):
            mask = self._one_pass_mask(as_rgb(rgb))
        return np.ascontiguousarray(mask, dtype=np.float32)

    def _one_pass_mask(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        out = self._run(network_input(rgb, self.input_spec))[0]
        return mask_from_output(
            out, width, height, self.spec.output, self.options.rembg_exact, self.input_spec.resize
        )

    # --- steps ---------------------------------------------------------------------------------
    def predict_square(self, rgb: np.ndarray, check=lambda: None, kept=None) -> np.ndarray:
        """The network's raw output at network size for one photo (flip-averaged if enabled;
        then the first pass's output is appended to `kept` when a list is given)."""
        spec = self.input_spec
        batch = network_input(rgb, spec)
        out = self._run(batch)[0]
        if self.options.flip_tta:
            if kept is not None:
                kept.append(out)
            check()
            side = self.options.flip_side
            if side and side != spec.size and spec.resize != "letterbox":
                batch = network_input(rgb, dataclasses.replace(spec, size=side))
            flipped = self._run(np.ascontiguousarray(batch[..., ::-1]))[0][:, ::-1]
            out = (out + resize_prediction(flipped, out.shape)) * 0.5
        return out

    def _mask(self, rgb, progress, start, end, check, kept=None) -> np.ndarray:
        height, width = rgb.shape[:2]
        progress(start, "Running the model")
        pred = self.predict_square(rgb, check, kept)
        progress(end, "Resizing the mask")
        return mask_from_output(
            pred, width, height, self.spec.output, self.options.rembg_exact, self.input_spec.resize
        )

    def _crop_pass(self, rgb, mask, progress, check) -> np.ndarray:
        height, width = mask.shape
        box = postprocess.subject_box(mask)
        if box is None:
            return mask
        x0, y0, x1, y1 = postprocess.expand_box(box, width, height, self.options.crop_margin)
        if (x1 - x0) * (y1 - y0) >= self.options.crop_max_fill * width * height:
            return mask
        check()
        progress(0.6, "Looking closer at the subject")
        crop_mask = self._mask(rgb[y0:y1, x0:x1], progress, 0.6, 0.9, check)
        out = mask.copy()
        out[y0:y1, x0:x1] = crop_mask
        return out
