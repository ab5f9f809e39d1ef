"""Text or image watermarks for shops that publish product and car photos."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bgeraser_gui.core.errors import ExportError, ImageLoadError
from bgeraser_gui.core.image_io import DEFAULT_MAX_PIXELS, open_image

POSITIONS = ("bottom-right", "bottom-left", "top-right", "top-left", "center")


@dataclass(frozen=True)
class Watermark:
    """`text` or `image` (a path); `size` is the mark's width as a fraction of the photo's."""

    text: str | None = None
    image: Path | None = None
    position: str = "bottom-right"
    size: float = 0.2
    opacity: float = 0.5
    margin: float = 0.02  # fraction of the photo's shorter side
    max_pixels: int = DEFAULT_MAX_PIXELS  # the run's decompression-bomb guard

    def __post_init__(self) -> None:
        if (self.text is None) == (self.image is None):
            raise ValueError("a watermark needs exactly one of text or image")
        if self.position not in POSITIONS:
            raise ValueError(f"watermark position must be one of {', '.join(POSITIONS)}")
        if not 0.0 < self.size <= 1.0 or not 0.0 <= self.opacity <= 1.0:
            raise ValueError("watermark size must be in (0, 1] and opacity in [0, 1]")


def _mark_image(mark: Watermark, target_width: int) -> Image.Image:
    width = max(1, round(target_width * mark.size))
    if mark.image is not None:
        name = Path(mark.image).name
        try:
            with open_image(mark.image, name, mark.max_pixels) as source:
                logo = source.convert("RGBA")
        except ImageLoadError as exc:
            raise ExportError(f"watermark image {exc}") from None
        except (OSError, ValueError) as exc:
            raise ExportError(f"watermark image {name}: {exc}") from None
        height = max(1, round(logo.height * width / logo.width))
        return logo.resize((width, height), Image.Resampling.LANCZOS)
    font_size = 10
    font = ImageFont.load_default(font_size)
    # Grow the font until the text spans the requested width.
    while True:
        left, top, right, bottom = font.getbbox(mark.text)
        if right - left >= width or font_size > 2000:
            break
        font_size = max(font_size + 1, int(font_size * width / max(1, right - left)))
        font = ImageFont.load_default(font_size)
    left, top, right, bottom = font.getbbox(mark.text)
    canvas = Image.new("RGBA", (right - left + 4, bottom - top + 4), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    shadow = max(1, font_size // 25)
    draw.text((2 - left + shadow, 2 - top + shadow), mark.text, font=font, fill=(0, 0, 0, 160))
    draw.text((2 - left, 2 - top), mark.text, font=font, fill=(255, 255, 255, 255))
    return canvas


def apply_watermark(image: Image.Image, mark: Watermark) -> Image.Image:
    """Return `image` (RGB or RGBA) with the watermark blended in at its position."""
    logo = _mark_image(mark, image.width)
    if logo.width > image.width or logo.height > image.height:
        scale = min(image.width / logo.width, image.height / logo.height)
        logo = logo.resize(
            (max(1, int(logo.width * scale)), max(1, int(logo.height * scale))),
            Image.Resampling.LANCZOS,
        )
    alpha = logo.getchannel("A").point(lambda v: round(v * mark.opacity))
    logo.putalpha(alpha)
    margin = round(min(image.size) * mark.margin)
    x_right, y_bottom = image.width - logo.width - margin, image.height - logo.height - margin
    x, y = {
        "bottom-right": (x_right, y_bottom),
        "bottom-left": (margin, y_bottom),
        "top-right": (x_right, margin),
        "top-left": (margin, margin),
        "center": ((image.width - logo.width) // 2, (image.height - logo.height) // 2),
    }[mark.position]
    x, y = max(0, x), max(0, y)
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    layer.paste(logo, (x, y))
    if image.mode == "RGBA":
        # Keep the cutout's transparency: the mark adds opacity only where it is drawn.
        return Image.alpha_composite(base, layer)
    return Image.alpha_composite(base, layer).convert(image.mode)
