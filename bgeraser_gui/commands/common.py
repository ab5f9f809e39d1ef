"""Options shared by the commands that produce cutouts (`cutout`, `batch`, `eval`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bgeraser_gui.core.compose import EXISTING_POLICIES, FORMATS, ExportOptions, parse_color
from bgeraser_gui.core.image_io import DEFAULT_MAX_PIXELS
from bgeraser_gui.core.watermark import POSITIONS, Watermark


def add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        default=None,
        metavar="NAME|PATH",
        help="model name from `bgeraser-cli models list`, or a path to an .onnx file "
        "(default: isnet-general-use, or an installed variant of it such as its -fp16)",
    )
    group.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda", "mps"),
        default="auto",
        help="where the model runs (default: auto = CUDA > MPS > CPU)",
    )
    group.add_argument(
        "--runtime",
        choices=("auto", "torch", "onnxruntime"),
        default="auto",
        help="inference library for the model (default: auto, the fastest for the device)",
    )
    group.add_argument(
        "--quality",
        choices=("best", "fast", "rembg"),
        default="best",
        help="best: flip averaging + island/hole clean-up (two network passes); fast: one "
        "pass; rembg: reproduce rembg's output exactly (default: best)",
    )
    group.add_argument(
        "--refine",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="alpha matting of the edges with colour decontamination (default: on)",
    )


def add_export_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("export")
    group.add_argument("--format", choices=tuple(FORMATS), default="png")
    group.add_argument(
        "--background",
        default="transparent",
        metavar="transparent|#RRGGBB|IMAGE",
        help="keep transparency, flatten onto a colour, or onto an image (scaled to cover)",
    )
    group.add_argument("--mask-only", action="store_true", help="write the 8-bit mask as PNG")
    group.add_argument(
        "--crop",
        nargs="?",
        const=0,
        type=int,
        default=None,
        metavar="MARGIN_PX",
        help="crop to the subject, with an optional margin in pixels",
    )
    group.add_argument("--resize", type=int, default=None, metavar="PX", help="longest side")
    group.add_argument(
        "--objects",
        choices=("each", "largest"),
        default=None,
        help="each: every object of the cutout as its own file ({name}_1, {name}_2 ...); "
        "largest: only the main subject (default: all subjects in one file)",
    )
    group.add_argument("--existing", choices=EXISTING_POLICIES, default="number")
    group.add_argument(
        "--name-pattern", default="{stem}_cutout", help="output name without extension"
    )
    group.add_argument("--watermark-text", default=None)
    group.add_argument("--watermark-image", type=Path, default=None)
    group.add_argument("--watermark-position", choices=POSITIONS, default="bottom-right")
    group.add_argument("--watermark-size", type=float, default=0.2, help="fraction of width")
    group.add_argument("--watermark-opacity", type=float, default=0.5)
    group.add_argument(
        "--max-megapixels",
        type=float,
        default=DEFAULT_MAX_PIXELS / 1e6,
        help="refuse larger images (decompression-bomb guard)",
    )


def parse_background(text: str) -> None | tuple[int, int, int] | Path:
    if text.lower() in ("transparent", "none", ""):
        return None
    if text.startswith("#"):
        return parse_color(text)
    path = Path(text)
    if not path.is_file():
        raise ValueError(f"background {text!r} is neither #RRGGBB nor an image file")
    return path


def export_options_from_args(args: argparse.Namespace) -> ExportOptions:
    """Build ExportOptions; raises ValueError with a user-facing message."""
    watermark = None
    if args.watermark_text or args.watermark_image:
        watermark = Watermark(
            text=args.watermark_text,
            image=args.watermark_image,
            position=args.watermark_position,
            size=args.watermark_size,
            opacity=args.watermark_opacity,
        )
    return ExportOptions(
        format=args.format,
        background=parse_background(args.background),
        mask_only=args.mask_only,
        crop_to_subject=args.crop is not None,
        crop_margin_px=args.crop or 0,
        resize_long_side=args.resize,
        watermark=watermark,
        existing=args.existing,
        name_pattern=args.name_pattern,
    )


def spec_from_args(args: argparse.Namespace, backend_factory=None):
    """The PipelineSpec the model and export options on the command line describe (the model
    is resolved here, so it is said once and every worker uses the same one).
    `backend_factory` lets embedders and tests supply their own backend."""
    from bgeraser_gui.assemble import PipelineSpec

    spec = PipelineSpec(
        model=args.model,
        device=args.device,
        runtime=args.runtime,
        quality=args.quality,
        refine=args.refine,
        export=export_options_from_args(args),
        torch_threads=getattr(args, "threads_per_worker", None),
        max_pixels=int(args.max_megapixels * 1e6),
        backend_factory=backend_factory,
        objects=getattr(args, "objects", None),
    )
    return spec.with_model_resolved(notify=_say_on_stderr)


def _say_on_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def fail(message: str, code: int = 2) -> int:
    print(f"bgeraser-cli: error: {message}", file=sys.stderr)
    return code
