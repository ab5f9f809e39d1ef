"""16-bit export: a 16-bit PNG or TIFF in gives a 16-bit PNG or TIFF out, colours and alpha.

The model, the matting and the editor work on the photo's 8-bit copy; the export composes from
the source's own 16-bit colours (`LoadedImage.rgb16`) in float, a band of rows at a time, and
rounds once to 16 bits at the end. Decontaminated edge colours are the source's 16-bit colour
plus the decontamination's correction (foreground - the 8-bit colour it started from), so opaque
pixels keep their exact 16-bit values and no pixel goes through 8 bits. JPEG and WebP have no
16-bit form and stay 8-bit. The ICC profile and the EXIF are embedded in both formats.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image

from bgeraser_gui.core.errors import ExportError
from bgeraser_gui.core.image_io import LoadedImage, load_image
from bgeraser_gui.core.watermark import Watermark, apply_watermark

DEEP_FORMATS = ("png", "tiff")
ROWS = 128  # rows per band: no whole-image float temporaries
U16_MAX = 65535.0


@dataclass
class DeepImage:
    """A composed 16-bit export: uint16 HxW (mask), HxWx3 (RGB) or HxWx4 (RGBA)."""

    pixels: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])

    @property
    def channels(self) -> int:
        return 1 if self.pixels.ndim == 2 else int(self.pixels.shape[2])


def exports_16bit(image: LoadedImage, fmt: str, mask_only: bool) -> bool:
    """Whether this export keeps 16 bits: a 16-bit source to PNG, TIFF or a mask (PNG)."""
    return image.rgb16 is not None and (mask_only or fmt in DEEP_FORMATS)


def _unit_alpha(alpha: np.ndarray) -> np.ndarray:
    if alpha.dtype == np.uint8:
        return alpha.astype(np.float32) * (1.0 / 255.0)
    return np.clip(alpha, 0.0, 1.0, dtype=np.float32)


def _to_u16(values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """float [0, 1] -> uint16, rounded; `values` (a temporary) is scaled in place, `out` (a
    uint16 array or view of the same shape) is written into when given."""
    values *= U16_MAX
    np.rint(values, out=values)
    np.clip(values, 0, U16_MAX, out=values)
    if out is None:
        return values.astype(np.uint16)
    out[...] = values
    return out


def source_colours(
    image: LoadedImage, foreground: np.ndarray | None, rows: slice, cols: slice
) -> np.ndarray:
    """float32 colours in [0, 1] of a window at 16-bit precision: the source's 16-bit colours,
    plus the decontamination's correction where `foreground` (from the 8-bit copy) moved them."""
    assert image.rgb16 is not None
    colours = image.rgb16[rows, cols].astype(np.float32) * (1.0 / U16_MAX)
    if foreground is not None:
        colours += foreground[rows, cols]
        colours -= image.rgb[rows, cols].astype(np.float32) * (1.0 / 255.0)
        np.clip(colours, 0.0, 1.0, out=colours)
    return colours


def _background(background: tuple[int, int, int] | Path, size: tuple[int, int]) -> np.ndarray:
    """The background at `size` as float32 [0, 1] (a broadcast colour, or an image scaled to
    cover and centre-cropped at its own precision)."""
    width, height = size
    if isinstance(background, tuple):
        colour = np.array(background, np.float32) / 255.0
        return np.broadcast_to(colour, (height, width, 3))
    bg = load_image(background)
    pixels = bg.rgb16 if bg.rgb16 is not None else bg.rgb
    scale = max(width / bg.width, height / bg.height)
    new = (max(width, round(bg.width * scale)), max(height, round(bg.height * scale)))
    scaled = cv2.resize(pixels, new, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    left, top = (new[0] - width) // 2, (new[1] - height) // 2
    unit = 1.0 / (U16_MAX if pixels.dtype == np.uint16 else 255.0)
    return scaled[top : top + height, left : left + width].astype(np.float32) * unit


def compose_16bit(
    image: LoadedImage,
    alpha: np.ndarray,
    box: tuple[int, int, int, int] | None,
    mask_only: bool,
    background: tuple[int, int, int] | Path | None,
    foreground: np.ndarray | None = None,
) -> np.ndarray:
    """The 16-bit export pixels of the window `box` (left, top, right, bottom; None: all):
    the mask, the RGBA cutout, or the cutout over `background` (RGB)."""
    height, width = alpha.shape
    left, top, right, bottom = box if box is not None else (0, 0, width, height)
    cols = slice(left, right)
    if mask_only:
        return _to_u16(_unit_alpha(alpha[top:bottom, cols]))
    channels = 4 if background is None else 3
    out = np.empty((bottom - top, right - left, channels), np.uint16)
    bg = None if background is None else _background(background, (right - left, bottom - top))
    for start in range(top, bottom, ROWS):
        rows = slice(start, min(bottom, start + ROWS))
        a = _unit_alpha(alpha[rows, cols])
        colours = source_colours(image, foreground, rows, cols)
        band = slice(start - top, rows.stop - top)
        if bg is None:
            _to_u16(colours, out[band, :, :3])
            _to_u16(a, out[band, :, 3])
        else:
            a = a[..., None]
            colours *= a
            colours += bg[band] * (1.0 - a)
            _to_u16(colours, out[band])
    return out


def compose_16bit_export(image, alpha, box, options, foreground) -> DeepImage:
    """`compose_16bit`, then `options`' resize and watermark (an ExportOptions)."""
    pixels = compose_16bit(image, alpha, box, options.mask_only, options.background, foreground)
    new_size = resized((pixels.shape[1], pixels.shape[0]), options.resize_long_side)
    if new_size is not None:
        pixels = resize_16bit(pixels, new_size)
    if options.watermark is not None and not options.mask_only:
        pixels = watermark_16bit(pixels, options.watermark)
    return DeepImage(pixels)


def resized(size: tuple[int, int], long_side: int | None) -> tuple[int, int] | None:
    """The (width, height) that gives `size` the long side `long_side`; None: no resize."""
    if not long_side or max(size) == long_side:
        return None
    scale = long_side / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def resize_16bit(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale to `size` (width, height); RGBA is scaled premultiplied (no dark fringes), as
    Pillow does for the 8-bit export."""
    shrinking = size[0] * size[1] < pixels.shape[0] * pixels.shape[1]
    method = cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4
    unit = pixels.astype(np.float32) * (1.0 / U16_MAX)
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        unit[..., :3] *= unit[..., 3:]
        unit = cv2.resize(unit, size, interpolation=method)
        alpha = np.clip(unit[..., 3:], 0.0, 1.0)
        unit[..., :3] = np.divide(
            unit[..., :3], alpha, out=np.zeros_like(unit[..., :3]), where=alpha > 0
        )
    else:
        unit = cv2.resize(unit, size, interpolation=method)
    return _to_u16(np.clip(unit, 0.0, 1.0))


def watermark_16bit(pixels: np.ndarray, mark: Watermark) -> np.ndarray:
    """Blend the watermark in at 16-bit precision (drawn once on a transparent layer)."""
    height, width = pixels.shape[:2]
    layer = np.asarray(apply_watermark(Image.new("RGBA", (width, height), (0, 0, 0, 0)), mark))
    drawn = layer[..., 3] > 0
    mark_alpha = layer[..., 3][drawn].astype(np.float32)[:, None] / 255.0
    mark_rgb = layer[..., :3][drawn].astype(np.float32) / 255.0
    under = pixels[drawn].astype(np.float32) / U16_MAX
    under[:, :3] = mark_rgb * mark_alpha + under[:, :3] * (1.0 - mark_alpha)
    if pixels.shape[2] == 4:
        under[:, 3:] = mark_alpha + under[:, 3:] * (1.0 - mark_alpha)
    out = pixels.copy()
    out[drawn] = _to_u16(under)
    return out


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def encode_png16(pixels: np.ndarray, icc: bytes | None, exif: bytes | None) -> bytes:
    """16-bit PNG with the ICC profile (iCCP) and EXIF (eXIf) chunks after the header."""
    ok, encoded = cv2.imencode(".png", _bgr(pixels), [cv2.IMWRITE_PNG_COMPRESSION, 4])
    if not ok:
        raise ExportError("cannot encode a 16-bit PNG")
    data = encoded.tobytes()
    header_end = 8 + 25  # signature + IHDR chunk
    extra = b""
    if icc:
        extra += _png_chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(icc))
    if exif:
        extra += _png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif)
    return data[:header_end] + extra + data[header_end:]


def encode_tiff(pixels: np.ndarray, icc: bytes | None, exif: bytes | None = None) -> bytes:
    """8- or 16-bit TIFF (deflate, unassociated alpha) with the ICC profile and the EXIF: its text
    tags (camera, date, author...) and orientation in the image's directory, its Exif and GPS
    directories appended and linked from there, as Pillow writes them (Pillow's own compressed
    TIFF writer, libtiff, fails on an EXIF with an Exif directory: every camera photo)."""
    photometric = "minisblack" if pixels.ndim == 2 else "rgb"
    extras = ("unassalpha",) if pixels.ndim == 3 and pixels.shape[2] == 4 else None
    main_tags, directories = _exif_for_tiff(exif)
    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer,
        pixels,
        photometric=photometric,
        extrasamples=extras,
        compression="zlib",
        predictor=True,
        iccprofile=icc,
        metadata=None,
        software=False,  # the photo's own Software tag (EXIF) when it has one
        extratags=main_tags + [(code - 1, "I", 1, 0, True) for code in directories],
    )
    return _linked_directories(buffer.getvalue(), directories)


EXIF_TEXT_TAGS = (270, 271, 272, 305, 306, 315, 33432)  # description, make, model, software,
# date, artist, copyright
EXIF_ORIENTATION, EXIF_DIRECTORIES = 0x0112, (0x8769, 0x8825)  # Exif and GPS directories
# tifffile refuses to write these pointer tags: each is written as the tag code below it (no
# other tag sorts between them, so the directory stays in order) and renamed afterwards


def _exif_for_tiff(exif: bytes | None) -> tuple[list[tuple], dict[int, dict]]:
    """(tifffile extra tags of the image's directory, {pointer tag: Exif/GPS entries})."""
    if not exif:
        return [], {}
    parsed = Image.Exif()
    parsed.load(exif)
    tags: list[tuple] = []
    for code in EXIF_TEXT_TAGS:
        value = parsed.get(code)
        if isinstance(value, str) and value:
            tags.append((code, "s", 0, value, True))
    if isinstance(parsed.get(EXIF_ORIENTATION), int):
        tags.append((EXIF_ORIENTATION, "H", 1, parsed[EXIF_ORIENTATION], True))
    directories = {code: dict(parsed.get_ifd(code)) for code in EXIF_DIRECTORIES}
    return tags, {code: entries for code, entries in directories.items() if entries}


def _entries(tiff: bytes, order: str) -> dict[int, int]:
    """{tag: file offset of its 12-byte entry} in a classic TIFF's first directory."""
    (first,) = struct.unpack_from(order + "I", tiff, 4)
    (count,) = struct.unpack_from(order + "H", tiff, first)
    entries = (first + 2 + 12 * i for i in range(count))
    return {struct.unpack_from(order + "H", tiff, at)[0]: at for at in entries}


def _linked_directories(tiff: bytes, directories: dict[int, dict]) -> bytes:
    """`tiff` with each directory appended and its pointer tag (written as 0) set to it."""
    if not directories:
        return tiff
    from PIL.TiffImagePlugin import ImageFileDirectory_v2

    order = "<" if tiff[:2] == b"II" else ">"
    at = _entries(tiff, order)
    out = bytearray(tiff)
    for code, entries in directories.items():
        out += b"\0" * (len(out) % 2)  # directories start on a word boundary
        ifd = ImageFileDirectory_v2(prefix=b"II" if order == "<" else b"MM")
        for tag, value in entries.items():
            ifd[tag] = value
        start = len(out)
        out += ifd.tobytes(start)
        entry = at[code - 1]
        out[entry : entry + 2] = struct.pack(order + "H", code)
        out[entry + 8 : entry + 12] = struct.pack(order + "I", start)
    return bytes(out)


def encode_16bit(result: DeepImage, fmt: str, icc: bytes | None, exif: bytes | None) -> bytes:
    """The file bytes of a 16-bit export; the ICC profile is dropped for a mask (grey)."""
    if result.channels == 1:
        icc = exif = None
    if fmt == "tiff":
        return encode_tiff(result.pixels, icc, exif)
    return encode_png16(result.pixels, icc, exif)


def _bgr(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 2:
        return pixels
    code = cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR
    return cv2.cvtColor(pixels, code)
