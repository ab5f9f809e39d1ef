"""Open photos safely: EXIF orientation applied, ICC and EXIF kept, bombs refused.

Every failure is one of the typed errors in `core.errors`, with a one-line message.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import cv2
import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from bgeraser_gui.core.errors import (
    CorruptImageError,
    ImageLoadError,
    ImageTooLargeError,
    UnsupportedFormatError,
)

try:  # HEIC/AVIF through a well-kept plugin, when installed
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_AVAILABLE = True
except ImportError:  # pragma: no cover - optional
    HEIF_AVAILABLE = False

DEFAULT_MAX_PIXELS = 250_000_000  # 250 MP: room for 200 MP medium-format files

# One guard for every decode: `open_image` checks the header against the caller's limit
# before any pixel is decoded. Pillow's own check stays on as a backstop for any other
# `Image.open` in the process: it refuses images over the largest limit asked for so far
# (twice MAX_IMAGE_PIXELS; the warning between 1x and 2x is silenced in `open_image`).
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS // 2
EXIF_ORIENTATION = 0x0112

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# EXIF orientation -> the array operation that makes the pixels upright (as ImageOps.exif_transpose)
_UPRIGHT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}

READABLE_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "GIF", "HEIF", "AVIF"}
SUPPORTED_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
    | ({".heic", ".heif", ".avif"} if HEIF_AVAILABLE else set())
)


@dataclass
class LoadedImage:
    """A decoded photo, upright, as 8-bit RGB plus what export needs to write back (a 16-bit
    PNG or TIFF also keeps its full-precision colours for a 16-bit export)."""

    path: Path | None
    rgb: np.ndarray  # HxWx3 uint8, EXIF orientation applied
    alpha: np.ndarray | None  # HxW uint8 when the source had transparency
    icc_profile: bytes | None  # the source's ICC profile (RGB), to embed on export
    exif: bytes | None  # the source's EXIF block with orientation reset to 1
    bit_depth: int  # bits per channel of the source (8 or 16)
    format: str  # the decoder's format name, e.g. "JPEG"
    rgb16: np.ndarray | None = None  # HxWx3 uint16 of a 16-bit PNG/TIFF source, upright

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


def check_readable(path: str | Path) -> None:
    """ImageLoadError (one line) when `path` cannot even be looked at: missing, a symlink loop,
    no permission. Callers check before any other work on the file."""
    try:
        os.stat(path)
    except FileNotFoundError:
        raise ImageLoadError(f"{Path(path).name}: file not found") from None
    except OSError as exc:
        raise ImageLoadError(f"{Path(path).name}: cannot read ({exc.strerror or exc})") from None


def load_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode `path`; raise a typed ImageLoadError subclass on any problem."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageLoadError(f"{name}: file not found") from None
    except OSError as exc:
        raise ImageLoadError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if path.is_dir():
        raise ImageLoadError(f"{name}: is a folder, not an image")
    if size == 0:
        raise CorruptImageError(f"{name}: empty file (0 bytes)")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ImageLoadError(f"{name}: cannot read ({exc.strerror or exc})") from None
    return decode_image(data, name=name, path=path, max_pixels=max_pixels)


def _raise_backstop(max_pixels: int) -> None:
    backstop = Image.MAX_IMAGE_PIXELS
    if backstop is not None and max_pixels > 2 * backstop:
        Image.MAX_IMAGE_PIXELS = (max_pixels + 1) // 2


def open_image(
    source: str | Path | IO[bytes], name: str = "image", max_pixels: int = DEFAULT_MAX_PIXELS
) -> Image.Image:
    """Open an image lazily (header only) under the size guard; every decode goes through
    here (photos, watermark images, resume checks, thumbnails). Raises ImageLoadError."""
    _raise_backstop(max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(source)
    except UnidentifiedImageError:
        raise UnsupportedFormatError(
            f"{name}: not an image format bgeraser can read "
            f"(supported: {', '.join(sorted(e.lstrip('.') for e in SUPPORTED_EXTENSIONS))})"
        ) from None
    except Image.DecompressionBombError:
        raise ImageTooLargeError(
            f"{name}: over the {max_pixels / 1e6:.0f} MP safety limit"
        ) from None
    except (OSError, SyntaxError, ValueError, RuntimeError) as exc:
        raise CorruptImageError(f"{name}: damaged image header ({exc})") from None
    if im.format not in READABLE_FORMATS:
        raise UnsupportedFormatError(f"{name}: {im.format} images are not supported")
    width, height = im.size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name}: {width}x{height} is {width * height / 1e6:.0f} MP, over the "
            f"{max_pixels / 1e6:.0f} MP safety limit (bgeraser-cli: --max-megapixels)"
        )
    if width < 1 or height < 1:
        raise CorruptImageError(f"{name}: image has no pixels ({width}x{height})")
    return im


def decode_image(
    data: bytes, name: str = "image", path: Path | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> LoadedImage:
    """Decode image bytes (already read) with the same checks as `load_image`."""
    im = open_image(io.BytesIO(data), name, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im.load()
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        raise CorruptImageError(f"{name}: damaged or truncated image data ({exc})") from None
    loaded = _to_loaded(im, path)
    loaded.bit_depth = _bit_depth(im, data)
    rgb16 = _deep_rgb(data, im) if loaded.bit_depth == 16 else None
    if rgb16 is not None and rgb16.shape == loaded.rgb.shape:
        loaded.rgb16 = rgb16
        loaded.rgb = cv2.convertScaleAbs(rgb16, alpha=1.0 / 257.0)  # nearest 8-bit value
    return loaded


def _exif_without_orientation(im: Image.Image) -> bytes | None:
    exif = im.getexif()
    if not exif:
        return None
    if EXIF_ORIENTATION in exif:
        exif[EXIF_ORIENTATION] = 1
    return exif.tobytes()


def _bit_depth(im: Image.Image, data: bytes = b"") -> int:
    if im.format == "PNG" and data[:8] == PNG_SIGNATURE and len(data) > 24:
        return 16 if data[24] == 16 else 8  # IHDR bit depth (Pillow reads 16-bit RGB as 8)
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return 16
    bits = im.info.get("bits")
    if im.format == "TIFF":
        tag = im.tag_v2.get(258)  # BitsPerSample
        if tag:
            bits = max(tag) if isinstance(tag, tuple) else tag
    return 16 if bits == 16 else 8


def _deep_rgb(data: bytes, im: Image.Image) -> np.ndarray | None:
    """HxWx3 uint16 colours of a 16-bit PNG or TIFF (Pillow keeps only 8 bits of RGB), EXIF
    orientation applied; None for CMYK or what OpenCV cannot decode at 16 bits."""
    if im.format not in ("PNG", "TIFF") or im.mode == "CMYK":
        return None
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype != np.uint16 or decoded.shape[:2] != im.size[::-1]:
        return None
    if decoded.ndim == 2:
        rgb = np.repeat(decoded[..., None], 3, axis=2)
    elif decoded.shape[2] in (3, 4):
        rgb = cv2.cvtColor(decoded[..., :3], cv2.COLOR_BGR2RGB)
    else:
        return None
    upright = _UPRIGHT.get(im.getexif().get(EXIF_ORIENTATION, 1))
    return rgb if upright is None else np.ascontiguousarray(upright(rgb))


def _to_loaded(im: Image.Image, path: Path | None) -> LoadedImage:
    fmt = im.format or "unknown"
    bit_depth = _bit_depth(im)
    icc = im.info.get("icc_profile") or None
    upright = ImageOps.exif_transpose(im)  # before touching the EXIF orientation below
    exif = _exif_without_orientation(im)
    rgb, alpha, icc = _to_rgb(upright, icc)
    return LoadedImage(
        path=path,
        rgb=rgb,
        alpha=alpha,
        icc_profile=icc,
        exif=exif,
        bit_depth=bit_depth,
        format=fmt,
    )


def _to_rgb(
    im: Image.Image, icc: bytes | None
) -> tuple[np.ndarray, np.ndarray | None, bytes | None]:
    """Return (RGB uint8, alpha uint8 or None, ICC profile valid for the RGB data)."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        grey = np.asarray(im)
        if mode == "F":
            grey8 = np.clip(np.rint(grey * (255.0 if grey.max(initial=0) <= 1.0 else 1.0)), 0, 255)
            grey8 = grey8.astype(np.uint8)
        else:
            grey8 = np.clip(np.rint(grey.astype(np.float32) / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(grey8[..., None], 3, axis=2), None, None
    if mode == "CMYK":
        return _cmyk_to_rgb(im, icc), None, None
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB") and "transparency" in im.info
    )
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"))
        alpha = np.ascontiguousarray(rgba[..., 3])
        rgb = np.ascontiguousarray(rgba[..., :3])
        if alpha.min() == 255:
            alpha = None
    else:
        rgb = np.asarray(im.convert("RGB"))
        alpha = None
    # An ICC profile of a grey source does not describe RGB data: drop it.
    if mode in ("L", "LA", "1") and icc:
        icc = None
    return np.ascontiguousarray(rgb), alpha, icc


def _cmyk_to_rgb(im: Image.Image, icc: bytes | None) -> np.ndarray:
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(im, source, srgb, outputMode="RGB")
            if converted is not None:
                return np.asarray(converted)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: fall back to the naive conversion below
    return np.asarray(im.convert("RGB"))


def is_supported_path(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_EXTENSIONS and not path.name.startswith(".")


def identity(path: str | Path) -> str:
    """One spelling per file: the resolved absolute path (symlinks and `..` followed; a
    symlink loop or an unreadable parent gives the absolute spelling instead of an error)."""
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):
        return os.path.abspath(path)


def collect_images(
    paths: Iterable[str | Path],
    recursive: bool = True,
    exclude: Callable[[Path], bool] | None = None,
) -> list[Path]:
    """Expand folders into the image files they hold; keep explicitly named files as given.

    Files named explicitly are returned even with an unknown extension, so that a bad
    file is reported rather than silently ignored. Duplicates (also by two spellings of one
    path) are removed, order is stable. `exclude(path)` drops files found in folders (e.g.
    earlier outputs).
    """
    found: list[Path] = []
    seen: set[str] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            candidates = sorted(
                (
                    p
                    for p in path.glob(pattern)
                    if p.is_file()
                    and is_supported_path(p)
                    and not (exclude is not None and exclude(p))
                ),
                key=lambda p: str(p).lower(),
            )
        else:
            candidates = [path]
        for candidate in candidates:
            key = identity(candidate)
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found
