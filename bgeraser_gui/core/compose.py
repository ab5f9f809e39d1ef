"""Compose a cutout (photo + alpha) into its export image and write it safely.

Formats: PNG, lossless WebP and TIFF with alpha; JPEG when flattened onto a background;
mask only as PNG. A 16-bit source gives 16-bit PNG, TIFF and masks (core/deep_export.py).
ICC profile and EXIF (orientation 1) are written back.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from bgeraser_gui.core.atomic import atomic_write
from bgeraser_gui.core.deep_export import (
    DeepImage,
    compose_16bit_export,
    encode_16bit,
    encode_tiff,
    exports_16bit,
    resized,
)
from bgeraser_gui.core.errors import ExportError, OutputExistsError
from bgeraser_gui.core.image_io import LoadedImage, identity, load_image
from bgeraser_gui.core.layered_export import (
    LAYERED_FORMATS,
    encode_ora,
    encode_psd,
    object_layers,
)
from bgeraser_gui.core.objects import WHOLE_SUBJECTS, split_objects
from bgeraser_gui.core.output_ledger import is_our_output, record_output
from bgeraser_gui.core.watermark import Watermark, apply_watermark

FORMATS = {"png": ".png", "webp": ".webp", "tiff": ".tif", "jpeg": ".jpg", **LAYERED_FORMATS}
EXISTING_POLICIES = ("skip", "overwrite", "number")
WEBP_MAX_SIDE = 16383
ROWS_PER_BAND = 256  # full-size conversions run on bands of rows: no whole-image float copies
SUBJECT_THRESHOLD = 8  # alpha (0..255) above which a pixel counts as subject for cropping

Color = tuple[int, int, int]


@dataclass(frozen=True)
class ExportOptions:
    format: str = "png"
    background: None | Color | Path = None  # None = transparent
    mask_only: bool = False
    crop_to_subject: bool = False
    crop_margin_px: int = 0
    resize_long_side: int | None = None
    watermark: Watermark | None = None
    existing: str = "number"
    sixteen_bit: bool = True  # a 16-bit source gives a 16-bit PNG / TIFF / mask
    name_pattern: str = "{stem}_cutout"
    mask_name_pattern: str = "{stem}_mask"
    # Files no policy may write (the run's inputs and outputs it wrote already), resolved
    # path strings. Set by the batch and cutout commands for the whole run.
    protected: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown format {self.format!r} (use {', '.join(FORMATS)})")
        if self.existing not in EXISTING_POLICIES:
            raise ValueError(f"existing-file policy must be one of {', '.join(EXISTING_POLICIES)}")
        if self.format == "jpeg" and self.background is None and not self.mask_only:
            raise ValueError("JPEG has no transparency: choose a background colour or image")
        if self.layered and (
            self.background is not None
            or self.crop_to_subject
            or self.resize_long_side
            or self.watermark is not None
        ):
            raise ValueError(
                "layered files (ORA, PSD) keep the whole photo, transparent: no background, "
                "crop, resize or watermark"
            )
        if self.crop_margin_px < 0:
            raise ValueError("crop margin must be >= 0")
        if self.resize_long_side is not None and self.resize_long_side < 1:
            raise ValueError("resize target must be >= 1 pixel")
        output_name(self, "photo")  # a bad naming pattern is refused here, before any work

    @property
    def layered(self) -> bool:
        """An OpenRaster or PSD file with one layer per object (core/layered_export.py)."""
        return self.format in LAYERED_FORMATS and not self.mask_only

    @property
    def extension(self) -> str:
        return ".png" if self.mask_only else FORMATS[self.format]


def parse_color(text: str) -> Color:
    """'#RRGGBB' or 'RRGGBB' -> (r, g, b)."""
    value = text.strip().lstrip("#")
    if len(value) != 6:
        raise ValueError(f"colour {text!r} is not #RRGGBB")
    try:
        return tuple(int(value[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
    except ValueError:
        raise ValueError(f"colour {text!r} is not #RRGGBB") from None


def to_alpha_u8(alpha: np.ndarray) -> np.ndarray:
    """Float alpha in [0, 1] (or uint8 already) -> uint8 0..255."""
    if alpha.dtype == np.uint8:
        return alpha
    return unit_to_u8(alpha)


def unit_to_u8(
    values: np.ndarray, rows_per_chunk: int = ROWS_PER_BAND, out: np.ndarray | None = None
) -> np.ndarray:
    """Float values in [0, 1] (alpha, colours) -> uint8 0..255, a band of rows at a time: no
    full-size float temporaries (three of 1.2 GB each for 100 MP colours). `out`: a uint8
    array (or view) of the same shape to write into."""
    out = np.empty(values.shape, np.uint8) if out is None else out
    for start in range(0, values.shape[0], rows_per_chunk):
        rows = slice(start, start + rows_per_chunk)
        out[rows] = np.clip(np.rint(values[rows] * 255.0), 0, 255)
    return out


def subject_box(alpha_u8: np.ndarray, margin: int = 0) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the subject plus `margin`, clamped; None if empty."""
    rows = np.flatnonzero((alpha_u8 > SUBJECT_THRESHOLD).any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero((alpha_u8 > SUBJECT_THRESHOLD).any(axis=0))
    height, width = alpha_u8.shape
    return (
        max(0, int(cols[0]) - margin),
        max(0, int(rows[0]) - margin),
        min(width, int(cols[-1]) + 1 + margin),
        min(height, int(rows[-1]) + 1 + margin),
    )


def _cover(background: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale `background` to cover `size` and centre-crop it."""
    width, height = size
    scale = max(width / background.width, height / background.height)
    scaled = background.resize(
        (
            max(width, round(background.width * scale)),
            max(height, round(background.height * scale)),
        ),
        Image.Resampling.LANCZOS,
    )
    left = (scaled.width - width) // 2
    top = (scaled.height - height) // 2
    return scaled.crop((left, top, left + width, top + height))


def _background_array(background: Color | Path, size: tuple[int, int]) -> np.ndarray:
    """The background at `size`: a broadcast colour or the image's uint8 pixels (made float a
    band of rows at a time by `_flatten`)."""
    width, height = size
    if isinstance(background, tuple):
        return np.broadcast_to(np.array(background, np.float32), (height, width, 3))
    bg = load_image(background)
    return np.asarray(_cover(Image.fromarray(bg.rgb), size))


def _flatten(colours: np.ndarray, alpha_u8: np.ndarray, background: Color | Path) -> np.ndarray:
    """`colours` (uint8, or float in [0, 1]) over `background` by alpha, HxWx3 uint8, a band
    of rows at a time (whole-image float temporaries cost ~50 bytes per pixel)."""
    height, width = alpha_u8.shape
    bg = _background_array(background, (width, height))
    out = np.empty((height, width, 3), np.uint8)
    for start in range(0, height, ROWS_PER_BAND):
        rows = slice(start, start + ROWS_PER_BAND)
        rgb = colours[rows] if colours.dtype == np.uint8 else unit_to_u8(colours[rows])
        a = alpha_u8[rows][..., None].astype(np.float32) / 255.0
        flat = rgb.astype(np.float32) * a + np.asarray(bg[rows], np.float32) * (1.0 - a)
        out[rows] = np.clip(np.rint(flat), 0, 255)
    return out


def _rgba(colours: np.ndarray, alpha_u8: np.ndarray) -> np.ndarray:
    """HxWx4 uint8 filled in place from uint8 or float [0, 1] colours (no separate copies)."""
    rgba = np.empty((*alpha_u8.shape, 4), np.uint8)
    if colours.dtype == np.uint8:
        rgba[..., :3] = colours
    else:
        unit_to_u8(colours, out=rgba[..., :3])
    rgba[..., 3] = alpha_u8
    return rgba


def compose_image(
    image: LoadedImage,
    alpha: np.ndarray,
    options: ExportOptions,
    foreground: np.ndarray | None = None,
) -> Image.Image | DeepImage:
    """Build the export image. `alpha` is uint8 or float in [0, 1] (a 16-bit export keeps the
    float's precision); `foreground` (HxWx3 float in [0, 1]) carries decontaminated colours."""
    if alpha.shape != image.rgb.shape[:2]:
        raise ExportError(
            f"mask size {alpha.shape[::-1]} does not match the image {image.rgb.shape[1::-1]}"
        )
    box = None
    if options.crop_to_subject:
        box = subject_box(to_alpha_u8(alpha), options.crop_margin_px)
    if options.sixteen_bit and exports_16bit(image, options.format, options.mask_only):
        return compose_16bit_export(image, alpha, box, options, foreground)
    alpha_u8 = to_alpha_u8(alpha)
    rgb = foreground if foreground is not None else image.rgb  # float colours: converted below
    if box is not None:
        left, top, right, bottom = box
        rgb, alpha_u8 = rgb[top:bottom, left:right], alpha_u8[top:bottom, left:right]
    if options.mask_only:
        result = Image.fromarray(np.ascontiguousarray(alpha_u8), "L")
    elif options.background is None:
        result = Image.fromarray(_rgba(rgb, alpha_u8), "RGBA")
    else:
        result = Image.fromarray(_flatten(rgb, alpha_u8, options.background), "RGB")
    new_size = resized(result.size, options.resize_long_side)
    if new_size is not None:
        result = result.resize(new_size, Image.Resampling.LANCZOS)
    if options.watermark is not None and not options.mask_only:
        result = apply_watermark(result, options.watermark)
    return result


def output_name(options: ExportOptions, stem: str) -> str:
    """The output file name for an input named `stem` (a plain name, never a path)."""
    pattern = options.mask_name_pattern if options.mask_only else options.name_pattern
    try:
        name = pattern.format(stem=stem, ext=options.extension.lstrip(".")) + options.extension
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise ValueError(f"bad naming pattern {pattern!r}: use {{stem}} ({exc})") from None
    base = name[: -len(options.extension)]
    if not base or "/" in name or "\\" in name or base in (".", "..") or "\0" in name:
        raise ValueError(f"naming pattern {pattern!r} must give a plain file name")
    return name


def output_path_for(input_path: str | Path, out_dir: str | Path, options: ExportOptions) -> Path:
    """Where the export of `input_path` goes (before the existing-file policy is applied)."""
    return Path(out_dir) / output_name(options, Path(input_path).stem)


def _protected(options: ExportOptions, extra: set[str]) -> set[str]:
    return set(options.protected) | extra


def refuse_overwriting_input(out_path: Path, inputs: set[Path], options: ExportOptions) -> None:
    """The "overwrite" policy never applies to a file the run reads or wrote already
    (`inputs` and `options.protected`), nor to a file bgeraser did not write."""
    if options.existing != "overwrite":
        return
    name = Path(out_path).name
    if identity(out_path) in _protected(options, {str(p) for p in inputs}):
        raise ExportError(
            f"{name}: refusing to overwrite the original photo or an output of this run"
        )
    if Path(out_path).exists() and not is_our_output(out_path):
        raise ExportError(
            f"{name}: refusing to overwrite a file bgeraser did not write "
            "(move it away or use --existing number)"
        )


def _numbered(path: Path, n: int) -> Path:
    return path.with_name(f"{path.stem}-{n}{path.suffix}")


def render(
    image: LoadedImage,
    alpha: np.ndarray,
    options: ExportOptions,
    foreground: np.ndarray | None = None,
    objects: list | None = None,
) -> Image.Image | DeepImage | bytes:
    """The export: a flat image, or a layered file's bytes with one layer per object of
    `objects` (core.objects.SubjectObject; None: split from the alpha now, no model run)."""
    if not options.layered:
        return compose_image(image, alpha, options, foreground)
    flat = compose_image(image, alpha, replace(options, format="png"), foreground)
    cutout = flat.pixels if isinstance(flat, DeepImage) else np.asarray(flat)
    unit = np.asarray(alpha, np.float32) / 255.0 if alpha.dtype == np.uint8 else alpha
    if objects is None:  # the cutout's own subjects, whole (not the hidden ones it left out)
        objects = [o for o in split_objects(image.rgb, unit, None, WHOLE_SUBJECTS) if o.suggested]
    encode = encode_ora if options.format == "ora" else encode_psd
    return encode(image, cutout, object_layers(unit, objects))


def _save(
    result: Image.Image | DeepImage | bytes,
    tmp: Path | io.BytesIO,
    image: LoadedImage,
    options: ExportOptions,
) -> None:
    if isinstance(result, Image.Image) and options.format == "tiff" and not options.mask_only:
        result = encode_tiff(np.asarray(result), image.icc_profile, image.exif)  # keeps EXIF
    if not isinstance(result, Image.Image):
        fmt = "png" if options.mask_only else options.format
        data = (
            result
            if isinstance(result, bytes)
            else encode_16bit(result, fmt, image.icc_profile, image.exif)
        )
        if isinstance(tmp, io.BytesIO):
            tmp.write(data)
        else:
            Path(tmp).write_bytes(data)
        return
    params: dict = {}
    if not options.mask_only:
        if image.icc_profile:
            params["icc_profile"] = image.icc_profile
        if image.exif:
            params["exif"] = image.exif
    fmt = "png" if options.mask_only else options.format
    if fmt == "png":
        result.save(tmp, "PNG", compress_level=4, **params)
    elif fmt == "webp":
        if max(result.size) > WEBP_MAX_SIDE:
            raise ExportError(f"WebP cannot hold images over {WEBP_MAX_SIDE} px: use PNG or TIFF")
        result.save(tmp, "WEBP", lossless=True, quality=80, method=4, exact=True, **params)
    else:
        result.save(tmp, "JPEG", quality=95, subsampling=0, **params)


def encode_cutout(
    image: LoadedImage,
    alpha: np.ndarray,
    options: ExportOptions,
    foreground: np.ndarray | None = None,
    objects: list | None = None,
) -> bytes:
    """Compose and encode the export in memory, the bytes `export_cutout` would write (the HTTP
    server answers with them; nothing touches the disk). The naming and existing-file options
    do not apply."""
    result = render(image, alpha, options, foreground, objects)
    buffer = io.BytesIO()
    try:
        _save(result, buffer, image, options)
    except (ValueError, KeyError, OSError) as exc:
        raise ExportError(f"cannot encode the cutout ({exc})") from None
    return buffer.getvalue()


def export_cutout(
    image: LoadedImage,
    alpha: np.ndarray,
    out_path: str | Path,
    options: ExportOptions,
    foreground: np.ndarray | None = None,
    protected: tuple[Path, ...] = (),
    objects: list | None = None,
) -> Path | None:
    """Compose and atomically write the export. Returns the path written, or None if skipped.

    The source photo (and any path in `protected` or `options.protected`) is never
    overwritten, whatever the policy; "overwrite" replaces only files bgeraser wrote (the
    output ledger proves it). Every file written is recorded in the ledger.
    """
    out_path = Path(out_path)
    if not out_path.parent.is_dir():
        raise ExportError(f"output folder {out_path.parent} does not exist")
    inputs = {Path(identity(p)) for p in protected}
    if image.path is not None:
        inputs.add(Path(identity(image.path)))
    if options.existing == "skip" and out_path.exists():
        return None
    refuse_overwriting_input(out_path, inputs, options)
    taken = _protected(options, {str(p) for p in inputs})
    result = render(image, alpha, options, foreground, objects)

    def write(tmp: Path) -> None:
        try:
            _save(result, tmp, image, options)
        except (ValueError, KeyError) as exc:
            raise ExportError(f"{out_path.name}: cannot encode ({exc})") from None

    def ledger(target: Path):
        return lambda tmp: record_output(target, tmp)

    if options.existing == "overwrite":
        return atomic_write(out_path, write, replace=True, before_commit=ledger(out_path))
    # "number" (and "skip", where the file appeared meanwhile): never replace anything.
    for n in range(1, 10_000):
        candidate = out_path if n == 1 else _numbered(out_path, n)
        if identity(candidate) in taken or candidate.exists() or candidate.is_symlink():
            if options.existing == "skip":
                return None
            continue
        try:
            return atomic_write(candidate, write, replace=False, before_commit=ledger(candidate))
        except OutputExistsError:
            if options.existing == "skip":
                return None
    raise ExportError(f"{out_path.name}: no free numbered name left")
