"""Render the application icon SVG into the PNG, ICO and ICNS files each platform needs.

    python packaging/make_icons.py            # regenerate bgeraser_gui/resources/icons/app/{png/,*.ico,*.icns}
    python packaging/make_icons.py --check    # exit 1 when a generated file is missing or stale

The SVG (bgeraser_gui/resources/icons/app/bgeraser.svg) is the only hand-edited source. Qt's SVG renderer
(PySide6, already a dependency) rasterises it at every size so small sizes are drawn for their
size rather than scaled down; Pillow writes the Windows .ico and the macOS .icns from those PNGs.
Run it after editing the SVG and commit the results.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
APP_DIR = REPO / "bgeraser_gui" / "resources" / "icons" / "app"
SVG = APP_DIR / "bgeraser.svg"
PNG_DIR = APP_DIR / "png"
ICO = APP_DIR / "bgeraser.ico"
ICNS = APP_DIR / "bgeraser.icns"

PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)  # 256 is the largest size Windows reads
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)  # Pillow writes ic04..ic10 (1024 = 512@2x)


def render_svg(svg: Path, size: int) -> Image.Image:
    """Rasterise `svg` to a size x size RGBA Pillow image with Qt's SVG renderer."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841  (keeps Qt alive)
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: Qt could not parse the SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return Image.open(io.BytesIO(bytes(data))).convert("RGBA")


def png_path(size: int) -> Path:
    return PNG_DIR / f"bgeraser-{size}.png"


def build_outputs(svg: Path = SVG) -> dict[Path, bytes]:
    """Every generated file and its bytes, computed in memory."""
    images = {size: render_svg(svg, size) for size in sorted(set(PNG_SIZES + ICNS_SIZES))}
    outputs: dict[Path, bytes] = {}
    for size in PNG_SIZES:
        outputs[png_path(size)] = _encode(images[size], "PNG", optimize=True)
    largest_ico = images[max(ICO_SIZES)]
    outputs[ICO] = _encode(
        largest_ico,
        "ICO",
        sizes=[(s, s) for s in ICO_SIZES],
        append_images=[images[s] for s in ICO_SIZES if s != max(ICO_SIZES)],
    )
    largest_icns = images[max(ICNS_SIZES)]
    outputs[ICNS] = _encode(
        largest_icns,
        "ICNS",
        append_images=[images[s] for s in ICNS_SIZES if s != max(ICNS_SIZES)],
    )
    return outputs


def _encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def _pixels_match(path: Path, expected: bytes) -> bool:
    """PNG bytes can differ between zlib builds; compare decoded pixels instead."""
    if not path.exists():
        return False
    if path.suffix != ".png":
        return path.read_bytes() == expected
    with Image.open(path) as current, Image.open(io.BytesIO(expected)) as wanted:
        return current.size == wanted.size and (
            current.convert("RGBA").tobytes() == wanted.convert("RGBA").tobytes()
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify instead of writing")
    args = parser.parse_args(argv)
    outputs = build_outputs()
    if args.check:
        stale = [p for p, data in outputs.items() if not _pixels_match(p, data)]
        for path in stale:
            print(f"stale or missing: {path.relative_to(REPO)}", file=sys.stderr)
        return 1 if stale else 0
    PNG_DIR.mkdir(parents=True, exist_ok=True)
    for path, data in outputs.items():
        path.write_bytes(data)
        print(f"wrote {path.relative_to(REPO)} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
