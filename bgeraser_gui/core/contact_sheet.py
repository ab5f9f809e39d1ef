"""Contact sheet of the worst cutouts: photo | ground truth | prediction | error map per row.

Written as one PNG (all rows stacked) and an HTML page that shows the same rows with their
titles and metrics, for the visual check that numbers miss.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bgeraser_gui.core.compose import to_alpha_u8
from bgeraser_gui.core.metrics import error_map, to_unit

DEFAULT_TILE_HEIGHT = 200
GAP = 6
CAPTION_HEIGHT = 22  # one text line
BACKGROUND = (32, 32, 32)
TEXT = (235, 235, 235)
COLUMNS = ("photo", "ground truth", "prediction", "error (red extra, blue missing, grey ignored)")


@dataclass
class SheetItem:
    title: str  # e.g. "grabcut50/person3 - isnet (refined)"
    caption: str  # e.g. "IoU 0.412  SAD 12.3  BF 0.520"
    photo: np.ndarray  # HxWx3 uint8
    truth: np.ndarray  # HxW ground-truth alpha (uint8 or float in [0, 1])
    prediction: np.ndarray  # HxW predicted alpha (uint8 or float in [0, 1])
    ignore: np.ndarray | None = None  # HxW bool, True = not scored


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without scalable default font
        return ImageFont.load_default()


def _gray(alpha: np.ndarray) -> np.ndarray:
    return to_alpha_u8(to_unit(alpha))


def _tile(array: np.ndarray, height: int) -> Image.Image:
    im = Image.fromarray(array)
    width = max(1, round(im.width * height / im.height))
    return im.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)


def render_row(item: SheetItem, tile_height: int = DEFAULT_TILE_HEIGHT) -> Image.Image:
    """One row: caption strip above the four tiles."""
    tiles = [
        _tile(item.photo, tile_height),
        _tile(_gray(item.truth), tile_height),
        _tile(_gray(item.prediction), tile_height),
        _tile(error_map(item.prediction, item.truth, item.ignore), tile_height),
    ]
    width = sum(t.width for t in tiles) + GAP * (len(tiles) + 1)
    # title and metrics on two lines: narrow (portrait) rows would cut one long line
    row = Image.new("RGB", (width, 2 * CAPTION_HEIGHT + tile_height + GAP), BACKGROUND)
    draw = ImageDraw.Draw(row)
    draw.text((GAP, 4), item.title, fill=TEXT, font=_font(14))
    draw.text((GAP, 4 + CAPTION_HEIGHT), item.caption, fill=TEXT, font=_font(14))
    x = GAP
    for t in tiles:
        row.paste(t, (x, 2 * CAPTION_HEIGHT))
        x += t.width + GAP
    return row


def _header(width: int, tile_width: int) -> Image.Image:
    im = Image.new("RGB", (width, CAPTION_HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(im)
    for i, name in enumerate(COLUMNS):
        draw.text((GAP + i * (tile_width + GAP), 4), name, fill=TEXT, font=_font(13))
    return im


def write_contact_sheet(
    items: Iterable[SheetItem],
    png_path: Path,
    html_path: Path | None = None,
    title: str = "Worst cutouts",
    tile_height: int = DEFAULT_TILE_HEIGHT,
) -> int:
    """Render every item, write the stacked PNG (and the HTML page with one PNG per row in
    `<html stem>_files/`). Returns the number of rows; writes nothing when there are none."""
    rows: list[tuple[SheetItem, Image.Image]] = []
    for item in items:
        rows.append((item, render_row(item, tile_height)))
    if not rows:
        return 0
    png_path.parent.mkdir(parents=True, exist_ok=True)
    width = max(im.width for _, im in rows)
    first_photo = rows[0][0].photo
    typical_tile = max(1, round(first_photo.shape[1] * tile_height / first_photo.shape[0]))
    sheet_height = CAPTION_HEIGHT + sum(im.height for _, im in rows)
    sheet = Image.new("RGB", (width, sheet_height), BACKGROUND)
    sheet.paste(_header(width, typical_tile), (0, 0))
    y = CAPTION_HEIGHT
    for _, im in rows:
        sheet.paste(im, (0, y))
        y += im.height
    sheet.save(png_path, optimize=True)
    if html_path is not None:
        _write_html(rows, html_path, title)
    return len(rows)


def _write_html(rows: list[tuple[SheetItem, Image.Image]], html_path: Path, title: str) -> None:
    files_dir = html_path.with_name(html_path.stem + "_files")
    files_dir.mkdir(parents=True, exist_ok=True)
    parts = [
        "<!doctype html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{background:#202020;color:#eee;font-family:sans-serif}"
        "figure{margin:0 0 18px 0}figcaption{margin:4px 0}img{max-width:100%}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Columns: {html.escape(', '.join(COLUMNS))}.</p>",
    ]
    for index, (item, im) in enumerate(rows, start=1):
        name = f"row_{index:03d}.png"
        im.save(files_dir / name, optimize=True)
        parts.append(
            f"<figure><figcaption><b>{index}. {html.escape(item.title)}</b> "
            f"&mdash; {html.escape(item.caption)}</figcaption>"
            f'<img src="{html.escape(files_dir.name)}/{name}" '
            f'alt="{html.escape(item.title)}"></figure>'
        )
    parts.append("</body></html>")
    html_path.write_text("\n".join(parts), encoding="utf-8")
