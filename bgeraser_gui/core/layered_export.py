"""Layered export (issue 18.4): OpenRaster (.ora) and Photoshop (.psd) files a retoucher opens in
GIMP, Krita, MyPaint, Photoshop, Affinity or Photopea.

Layers, top to bottom: "cutout" (the flattened export: decontaminated colours and the final
alpha, visible), one layer per object ("main subject", "left subject", ...: the original pixels
under the object's share of the final alpha, hidden), "original" (the photo, hidden). The file
opens looking exactly like the PNG export; hiding "cutout" and showing objects picks subjects.
In the PSD every object layer is the original pixels with a layer mask (editable in Photoshop,
GIMP, Affinity; 16-bit masks in a 16-bit PSD); OpenRaster has no layer masks, so there the mask is the layer's alpha.
A 16-bit source gives a 16-bit PSD and 16-bit PNGs inside the ORA.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

import cv2
import numpy as np
from PIL import Image

from bgeraser_gui.core.deep_export import encode_png16
from bgeraser_gui.core.image_io import LoadedImage

LAYERED_FORMATS = {"ora": ".ora", "psd": ".psd"}
ORA_MIMETYPE = b"image/openraster"
THUMBNAIL_PX = 256
CUTOUT_LAYER, ORIGINAL_LAYER = "cutout", "original"


@dataclass(frozen=True)
class MaskLayer:
    """One object's layer: `mask` is float32 HxW in [0, 1] over the original pixels."""

    name: str
    mask: np.ndarray

    def box(self) -> tuple[int, int, int, int] | None:
        """(left, top, right, bottom) of the pixels the mask shows; None when empty."""
        rows = np.flatnonzero(self.mask.any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(self.mask.any(axis=0))
        return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def object_layers(alpha: np.ndarray, objects: Sequence = ()) -> list[MaskLayer]:
    """The final `alpha` (float in [0, 1]) shared out among `objects` (core.objects
    SubjectObjects): each pixel goes to the object whose soft mask is strongest there (the
    nearest object where none covers it), so the layers add up to the cutout exactly. No
    objects: one layer for the whole cutout."""
    alpha = np.asarray(alpha, np.float32)
    if len(objects) < 2:
        name = objects[0].name if objects else "subject"
        return [MaskLayer(name, alpha)]
    strength = np.zeros(alpha.shape, np.float32)
    owner = np.zeros(alpha.shape, np.int32)  # 0: no object, else index + 1
    for index, obj in enumerate(objects, start=1):
        view = (slice(obj.bbox.y0, obj.bbox.y1), slice(obj.bbox.x0, obj.bbox.x1))
        soft = obj.alpha.astype(np.float32) / 255.0
        stronger = soft > strength[view]
        strength[view][stronger] = soft[stronger]
        owner[view][stronger] = index
    if ((owner == 0) & (alpha > 0)).any():
        from scipy import ndimage  # imported when needed: ~0.4 s of every CLI start otherwise

        nearest = ndimage.distance_transform_edt(
            owner == 0, return_distances=False, return_indices=True
        )
        owner = owner[nearest[0], nearest[1]]
    return [
        MaskLayer(obj.name, np.where(owner == index, alpha, np.float32(0)))
        for index, obj in enumerate(objects, start=1)
    ]


def _source_pixels(image: LoadedImage) -> np.ndarray:
    return image.rgb16 if image.rgb16 is not None else image.rgb


def _unit_to(mask: np.ndarray, dtype) -> np.ndarray:
    top = 65535.0 if dtype == np.uint16 else 255.0
    return np.clip(np.rint(mask * top), 0, top).astype(dtype)


def _png(pixels: np.ndarray, icc: bytes | None) -> bytes:
    if pixels.dtype == np.uint16:
        return encode_png16(pixels, icc, None)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", compress_level=4, icc_profile=icc)
    return buffer.getvalue()


def _thumbnail(cutout: np.ndarray) -> bytes:
    height, width = cutout.shape[:2]
    scale = min(1.0, THUMBNAIL_PX / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(cutout, size, interpolation=cv2.INTER_AREA)
    if small.dtype == np.uint16:
        small = (small.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    return _png(small, None)


def _ora_layer(name: str, src: str, x: int = 0, y: int = 0, visible: bool = False) -> str:
    visibility = "visible" if visible else "hidden"
    return (
        f'<layer name={quoteattr(name)} src={quoteattr(src)} x="{x}" y="{y}" '
        f'opacity="1.0" visibility="{visibility}" composite-op="svg:src-over"/>'
    )


def encode_ora(image: LoadedImage, cutout: np.ndarray, layers: Sequence[MaskLayer]) -> bytes:
    """An OpenRaster file: `cutout` (HxWx4 uint8 or uint16, the PNG export's pixels) on top,
    the object layers (cropped to their pixels, positioned by x/y), the original at the bottom."""
    source = _source_pixels(image)
    height, width = source.shape[:2]
    icc = image.icc_profile
    files: list[tuple[str, bytes]] = [("data/cutout.png", _png(cutout, icc))]
    entries = [_ora_layer(CUTOUT_LAYER, "data/cutout.png", visible=True)]
    for number, layer in enumerate(layers, start=1):
        box = layer.box()
        if box is None:
            continue
        left, top, right, bottom = box
        crop = (slice(top, bottom), slice(left, right))
        pixels = np.dstack([source[crop], _unit_to(layer.mask[crop], source.dtype)])
        src = f"data/object-{number}.png"
        files.append((src, _png(pixels, icc)))
        entries.append(_ora_layer(layer.name, src, left, top))
    files.append(("data/original.png", _png(source, icc)))
    entries.append(_ora_layer(ORIGINAL_LAYER, "data/original.png"))
    stack = (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        f'<image version="0.0.3" w="{width}" h="{height}"><stack>\n'
        + "\n".join(entries)
        + "\n</stack></image>\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ORA_MIMETYPE, zipfile.ZIP_STORED)
        archive.writestr("stack.xml", stack, zipfile.ZIP_DEFLATED)
        for name, data in files:  # PNGs are compressed already
            archive.writestr(name, data, zipfile.ZIP_STORED)
        archive.writestr("mergedimage.png", files[0][1], zipfile.ZIP_STORED)
        archive.writestr("Thumbnails/thumbnail.png", _thumbnail(cutout), zipfile.ZIP_STORED)
    return buffer.getvalue()


def _mask_at_16_bits(layer, mask: np.ndarray, version: int) -> None:
    """Give the layer mask `create_mask` just made (stored at the document's depth, but from an
    8-bit image: values x 257) the 16-bit values of `mask` (uint16)."""
    channel = layer._channels[-1]  # psd-tools appends the mask channel; it has no public handle
    height, width = mask.shape
    channel.set_data(mask.astype(">u2").tobytes(), width, height, 16, version)


def encode_psd(image: LoadedImage, cutout: np.ndarray, layers: Sequence[MaskLayer]) -> bytes:
    """A Photoshop file: "original" (hidden), one hidden layer per object holding the original
    pixels of its box with the object's layer mask, and "cutout" on top (visible); 16 bits per
    channel when `cutout` is uint16. The ICC profile goes into the image resources."""
    from psd_tools import PSDImage  # imported when needed: ~0.3 s of every CLI start otherwise
    from psd_tools.constants import Resource
    from psd_tools.psd.image_resources import ImageResource

    source = _source_pixels(image)
    height, width = source.shape[:2]
    depth = 16 if cutout.dtype == np.uint16 else 8
    # the merged preview (viewers, thumbnails) is the cutout over white; editors use the layers
    psd = PSDImage.new("RGB", (width, height), color=(1.0, 1.0, 1.0), depth=depth)
    psd.create_pixel_layer_from_array(source, name=ORIGINAL_LAYER).visible = False
    for layer in layers:
        box = layer.box()
        if box is None:
            continue
        left, top, right, bottom = box
        crop = (slice(top, bottom), slice(left, right))
        pixels = psd.create_pixel_layer_from_array(source[crop], layer.name, top=top, left=left)
        pixels.create_mask(Image.fromarray(_unit_to(layer.mask[crop], np.uint8), "L"))
        if depth == 16:
            _mask_at_16_bits(pixels, _unit_to(layer.mask[crop], np.uint16), psd.version)
        pixels.visible = False
    psd.create_pixel_layer_from_array(cutout, name=CUTOUT_LAYER)
    if image.icc_profile:
        key = Resource.ICC_PROFILE.value
        psd.image_resources[key] = ImageResource(key=key, data=image.icc_profile)
    buffer = io.BytesIO()
    psd.save(buffer)
    return buffer.getvalue()
