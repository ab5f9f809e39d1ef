"""Resizing a photo into a network input and the network output back to a photo-sized mask.

`network_input` and `mask_from_output(..., rembg_exact=True)` reproduce rembg 2.0.86's sessions:
PIL LANCZOS resize to the square input, division by the image maximum, per-channel mean/std,
min-max normalisation of the output, 8-bit quantisation, LANCZOS resize back. Large photos are
first reduced by an integer factor (PIL `reducing_gap`), which leaves photos less than three times
the input size untouched and keeps memory flat for 24 MP files.

Resize modes: "stretch" (rembg: the photo is squeezed to the square input), "letterbox" (the
anime-segmentation project's way: aspect-preserving resize, centred on a black square; the
padding is cropped off the output before it is resized back to the photo) and "fit" (aspect
preserved without padding: the long side becomes the input size, the short side the nearest
multiple of `FIT_MULTIPLE`; the network, fully convolutional, then computes only on the photo:
a 16:9 frame costs 56 % of a square pass. It needs a network that takes any input size:
backends/onnx_any_size.py for ONNX files whose graph was traced at one size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

REDUCING_GAP = 3.0


@dataclass(frozen=True)
class InputSpec:
    """How a model wants its input: square side, and normalisation of RGB scaled to 0..1."""

    size: int = 1024
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    output: str = "minmax"  # "minmax" | "sigmoid" | "identity" (see model_manifest/manifest.toml)
    resize: str = "stretch"  # "stretch" | "letterbox" (see RESIZE_MODES)
    # rembg's own arithmetic (the `rembg` preset): LANCZOS without integer pre-reduction and
    # normalisation in float64, cast to float32 at the end. Ours (float32) differs by an ulp in
    # most input values, which moved 0.1 % of the 8-bit mask by one level on the alpaca photo.
    rembg_arithmetic: bool = False


RESIZE_MODES = ("stretch", "letterbox", "fit")
FIT_MULTIPLE = 32  # ISNet and U²-Net halve the resolution five times below the input size


@dataclass(frozen=True)
class Placement:
    """Where the photo sits inside the square network input: rows top..top+height, columns
    left..left+width. For "stretch" it fills the square."""

    top: int
    left: int
    height: int
    width: int


def fit_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """(rows, columns) of the "fit" input for a `height` x `width` photo: the long side is
    `size`, the short side scaled alike and rounded to a multiple of FIT_MULTIPLE (at least
    one multiple, at most `size`)."""
    scale = size / max(height, width)

    def side(n: int) -> int:
        steps = round(n * scale / FIT_MULTIPLE)
        return min(size, max(FIT_MULTIPLE, steps * FIT_MULTIPLE))

    return side(height), side(width)


def placement(height: int, width: int, size: int, resize: str = "stretch") -> Placement:
    """The photo's rectangle inside the network input for a `height` x `width` photo (the
    `size` x `size` square, or for "fit" the input of `fit_shape`, which it fills).

    letterbox: the long side becomes `size`, the short side is scaled by the same factor and
    rounded (at least 1 pixel), and the padding is split evenly (the odd pixel goes after).
    """
    if resize == "stretch":
        return Placement(0, 0, size, size)
    if resize == "fit":
        return Placement(0, 0, *fit_shape(height, width, size))
    if resize != "letterbox":
        raise ValueError(f"unknown resize mode {resize!r}; expected one of {RESIZE_MODES}")
    if height >= width:
        inner_h, inner_w = size, max(1, min(size, round(width * size / height)))
    else:
        inner_h, inner_w = max(1, min(size, round(height * size / width))), size
    return Placement((size - inner_h) // 2, (size - inner_w) // 2, inner_h, inner_w)


def resize_rgb(
    rgb: np.ndarray, width: int, height: int, reducing_gap: float | None = REDUCING_GAP
) -> np.ndarray:
    """LANCZOS resize of an HxWx3 uint8 array (integer pre-reduction for big downscales)."""
    image = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    return np.asarray(image.resize((width, height), Image.Resampling.LANCZOS, None, reducing_gap))


def normalise(rgb_small: np.ndarray, spec: InputSpec) -> np.ndarray:
    """HxWx3 uint8 at network size -> 1x3xHxW float32, like rembg (divide by the max)."""
    if spec.rembg_arithmetic:  # rembg's steps exactly: float64 throughout, then float32
        scaled64 = rgb_small / max(float(rgb_small.max()), 1e-6)
        normal = (scaled64 - np.asarray(spec.mean)) / np.asarray(spec.std)
        return np.ascontiguousarray(normal.transpose(2, 0, 1)[None].astype(np.float32))
    scaled = rgb_small.astype(np.float32) / max(float(rgb_small.max()), 1e-6)
    mean = np.asarray(spec.mean, np.float32)
    std = np.asarray(spec.std, np.float32)
    return np.ascontiguousarray(((scaled - mean) / std).transpose(2, 0, 1)[None])


def network_input(rgb: np.ndarray, spec: InputSpec) -> np.ndarray:
    """HxWx3 uint8 photo -> 1x3xSxS float32 network input (stretched or letterboxed), or for
    "fit" 1x3xhxw with (h, w) = `fit_shape`."""
    if spec.resize == "stretch":
        gap = None if spec.rembg_arithmetic else REDUCING_GAP
        return normalise(resize_rgb(rgb, spec.size, spec.size, gap), spec)
    if spec.resize == "fit":
        rows, columns = fit_shape(rgb.shape[0], rgb.shape[1], spec.size)
        return normalise(resize_rgb(rgb, columns, rows), spec)
    box = placement(rgb.shape[0], rgb.shape[1], spec.size, spec.resize)
    square = np.zeros((spec.size, spec.size, 3), np.uint8)
    square[box.top : box.top + box.height, box.left : box.left + box.width] = resize_rgb(
        rgb, box.width, box.height
    )
    return normalise(square, spec)


def crop_to_photo(prediction: np.ndarray, height: int, width: int, resize: str) -> np.ndarray:
    """Network output (S x S) -> the part that shows the photo (drops letterbox padding)."""
    if resize == "fit":  # the input was the photo and nothing else
        return prediction
    box = placement(height, width, prediction.shape[0], resize)
    return prediction[box.top : box.top + box.height, box.left : box.left + box.width]


def to_unit_range(prediction: np.ndarray, output: str, minmax: bool = True) -> np.ndarray:
    """Raw network output (HxW) -> float32 in [0, 1] according to the model's output kind."""
    pred = prediction.astype(np.float32)
    if output == "sigmoid":
        pred = 1.0 / (1.0 + np.exp(-pred))
    if output != "identity" and minmax:
        low, high = float(pred.min()), float(pred.max())
        pred = (pred - low) / max(high - low, 1e-8)
    return np.clip(pred, 0.0, 1.0)


def resize_prediction(prediction: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A raw network output (float32 HxW) at another input size -> `shape`, bilinear (the
    output is smooth at network size; no clipping: raw outputs may be logits)."""
    if prediction.shape == tuple(shape):
        return np.ascontiguousarray(prediction, dtype=np.float32)
    image = Image.fromarray(np.ascontiguousarray(prediction, dtype=np.float32), "F")
    return np.asarray(image.resize((shape[1], shape[0]), Image.Resampling.BILINEAR))


def resize_mask(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """float32 HxW mask in [0, 1] -> width x height, LANCZOS on floats, clipped to [0, 1]."""
    if mask.shape == (height, width):
        return mask.astype(np.float32, copy=False)
    image = Image.fromarray(np.ascontiguousarray(mask, dtype=np.float32), "F")
    resized = np.asarray(image.resize((width, height), Image.Resampling.LANCZOS))
    return np.clip(resized, 0.0, 1.0)


def mask_from_output(
    prediction: np.ndarray,
    width: int,
    height: int,
    output: str,
    rembg_exact: bool,
    resize: str = "stretch",
) -> np.ndarray:
    """Network output at network size -> float32 mask at photo size.

    Letterbox padding is cropped off first (so min-max sees only the photo). rembg_exact:
    min-max, truncate to 8 bits, LANCZOS on the 8-bit mask (rembg's exact steps). Otherwise the
    float mask is resized directly (no 8-bit steps in the soft edge).
    """
    if resize != "stretch":
        prediction = crop_to_photo(prediction, height, width, resize)
    unit = to_unit_range(prediction, output, minmax=True)
    if not rembg_exact:
        return resize_mask(unit, width, height)
    mask8 = Image.fromarray((unit * 255).astype(np.uint8), "L")
    resized = mask8.resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.float32) / 255.0
