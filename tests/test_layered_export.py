"""Layered export (issue 18.4): ORA and PSD of a real photo read back with one layer per object
(a layer mask over the original pixels), and the flattened cutout equal to the PNG export."""

from __future__ import annotations

import io
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image
from psd_tools import PSDImage
from test_export_16bit import SRGB, read16, real_photo_16bit

from bgeraser_gui.core.compose import ExportOptions
from bgeraser_gui.core.history import Rect
from bgeraser_gui.core.image_io import load_image
from bgeraser_gui.core.layered_export import object_layers
from bgeraser_gui.core.objects import SubjectObject
from bgeraser_gui.core.pipeline import Pipeline


@pytest.fixture(scope="module")
def photo(eval_dir):
    """GT05 of alphamatting with its true matte (a real soft alpha) and a real decontamination."""
    folder = eval_dir / "alphamatting_train27"
    image = load_image(folder / "images" / "GT05.png")
    alpha = np.asarray(Image.open(folder / "alpha" / "GT05.png").convert("L"), np.float32) / 255.0
    foreground = image.rgb.astype(np.float32) / 255.0
    foreground[(alpha > 0) & (alpha < 1)] *= 0.95  # decontaminated edges differ from the photo
    return image, alpha, foreground


def two_objects(alpha: np.ndarray) -> list[SubjectObject]:
    """The cutout cut at its middle column into two objects (as core.objects names them)."""
    height, width = alpha.shape
    middle = width // 2
    soft = (alpha * 255).astype(np.uint8)
    return [
        SubjectObject(
            1, "left subject", Rect(0, 0, middle, height), soft[:, :middle], 0.9, "model"
        ),
        SubjectObject(
            2, "right subject", Rect(middle, 0, width, height), soft[:, middle:], 0.8, "model"
        ),
    ]


def png_export(image, alpha, foreground) -> np.ndarray:
    data = Pipeline().encode(image, alpha, foreground, ExportOptions(format="png"))
    return np.asarray(Image.open(io.BytesIO(data)))


def test_object_layers_add_up_to_the_cutout(photo):
    _, alpha, _ = photo
    layers = object_layers(alpha, two_objects(alpha))
    assert [layer.name for layer in layers] == ["left subject", "right subject"]
    np.testing.assert_array_equal(sum(layer.mask for layer in layers), alpha)
    assert all(layer.mask.max() > 0.9 for layer in layers)
    assert object_layers(alpha)[0].mask is not None and len(object_layers(alpha)) == 1


def test_ora_round_trip(photo, tmp_path):
    image, alpha, foreground = photo
    objects = two_objects(alpha)
    out = Pipeline().export(
        image, alpha, tmp_path / "x.ora", foreground, ExportOptions(format="ora")
    )
    with zipfile.ZipFile(out) as archive:
        first = archive.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert archive.read("mimetype") == b"image/openraster"
        stack = ET.fromstring(archive.read("stack.xml"))
        layers = stack.findall("./stack/layer")
        names = [layer.get("name") for layer in layers]
        assert names[0] == "cutout" and names[-1] == "original" and len(names) >= 3
        assert [layer.get("visibility") for layer in layers][:2] == ["visible", "hidden"]
        merged = np.asarray(Image.open(io.BytesIO(archive.read("mergedimage.png"))))
        np.testing.assert_array_equal(merged, png_export(image, alpha, foreground))
        thumb = Image.open(io.BytesIO(archive.read("Thumbnails/thumbnail.png")))
        assert max(thumb.size) == 256
        total = np.zeros(alpha.shape, np.int32)
        for layer in layers[1:-1]:
            pixels = np.asarray(Image.open(io.BytesIO(archive.read(layer.get("src")))))
            x, y = int(layer.get("x")), int(layer.get("y"))
            box = (slice(y, y + pixels.shape[0]), slice(x, x + pixels.shape[1]))
            np.testing.assert_array_equal(pixels[..., :3], image.rgb[box])  # original pixels
            total[box] += pixels[..., 3]
        assert np.abs(total - np.rint(alpha * 255)).max() <= 1  # the objects share the alpha
    # explicit objects: one layer each, named
    data = Pipeline().encode(image, alpha, foreground, ExportOptions(format="ora"))
    from bgeraser_gui.core.compose import render

    named = render(image, alpha, ExportOptions(format="ora"), foreground, objects)
    stack = ET.fromstring(zipfile.ZipFile(io.BytesIO(named)).read("stack.xml"))
    assert [layer.get("name") for layer in stack.iter("layer")] == [
        "cutout", "left subject", "right subject", "original"]  # fmt: skip
    assert len(data) > 1000


def test_layers_split_from_the_cutout_are_its_own_parts_only(photo):
    image, alpha, foreground = photo
    from bgeraser_gui.core.compose import render

    data = render(image, alpha, ExportOptions(format="ora"), foreground)  # split here
    stack = ET.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("stack.xml"))
    names = [layer.get("name") for layer in stack.iter("layer")]
    assert names[0] == "cutout" and names[1] == "main subject" and names[-1] == "original"
    assert not any(name.endswith(("(hidden)", "(faint)", "(found)")) for name in names)


def test_psd_round_trip(photo, tmp_path):
    image, alpha, foreground = photo
    from bgeraser_gui.core.compose import render

    data = render(image, alpha, ExportOptions(format="psd"), foreground, two_objects(alpha))
    (tmp_path / "x.psd").write_bytes(data)
    psd = PSDImage.open(tmp_path / "x.psd")
    assert psd.depth == 8 and psd.size == (image.width, image.height)
    layers = list(psd)
    assert [layer.name for layer in layers] == [
        "original",
        "left subject",
        "right subject",
        "cutout",
    ]
    assert [layer.visible for layer in layers] == [False, False, False, True]
    flat = png_export(image, alpha, foreground).astype(np.float32) / 255.0
    cutout = layers[-1].numpy()
    assert np.abs(cutout - flat).max() <= 1 / 255 + 1e-6
    total = np.zeros(alpha.shape, np.float32)
    for layer in layers[1:3]:
        assert layer.has_mask()
        left, top, right, bottom = layer.bbox
        box = (slice(top, bottom), slice(left, right))
        np.testing.assert_array_equal(np.asarray(layer.topil().convert("RGB")), image.rgb[box])
        mleft, mtop, mright, mbottom = layer.mask.bbox
        mask = np.asarray(layer.mask.topil(), np.float32) / 255.0
        total[mtop:mbottom, mleft:mright] += mask
    assert np.abs(total - alpha).max() <= 1 / 255 + 1e-6
    composite = np.asarray(psd.composite(ignore_preview=True).convert("RGBA"), np.float32) / 255
    seen = flat[..., 3] > 0.5  # where colours are defined enough to compare after compositing
    assert np.abs(composite[..., 3] - flat[..., 3]).max() <= 1 / 255 + 1e-6
    assert np.abs(composite[seen][:, :3] - flat[seen][:, :3]).max() <= 1 / 255 + 1e-6


def test_16bit_source_gives_16bit_layers(eval_dir, tmp_path):
    rgb16 = real_photo_16bit(eval_dir)
    tifffile.imwrite(tmp_path / "x16.tif", rgb16, photometric="rgb", iccprofile=SRGB)
    image = load_image(tmp_path / "x16.tif")
    alpha = np.zeros(rgb16.shape[:2], np.float32)
    alpha[20:-20, 30:-30] = 1.0
    alpha[20:-20, 30:40] = np.linspace(0, 1, 10, dtype=np.float32)
    png = read16(Pipeline().export(image, alpha, tmp_path / "x.png"))
    psd_path = Pipeline().export(
        image, alpha, tmp_path / "x.psd", options=ExportOptions(format="psd")
    )
    psd = PSDImage.open(psd_path)
    assert psd.depth == 16
    assert psd.image_resources.get_data(1039) == SRGB  # the ICC profile
    cutout = list(psd)[-1].numpy()
    assert np.abs(cutout - png / 65535.0).max() <= 1 / 65535 + 1e-6
    # the object's layer mask is 16-bit too: its values are the alpha's, not 8-bit ones x 257
    layer = list(psd)[1]
    left, top, right, bottom = layer.mask.bbox
    mask = layer.numpy("mask")[..., 0] if layer.numpy("mask").ndim == 3 else layer.numpy("mask")
    want = np.rint(alpha[top:bottom, left:right] * 65535) / 65535
    assert mask.shape == want.shape and np.abs(mask - want).max() <= 1e-6
    assert np.any(np.rint(mask * 65535) % 257 != 0)
    ora_path = Pipeline().export(
        image, alpha, tmp_path / "x.ora", options=ExportOptions(format="ora")
    )
    with zipfile.ZipFile(ora_path) as archive:
        merged = cv2.imdecode(
            np.frombuffer(archive.read("mergedimage.png"), np.uint8), cv2.IMREAD_UNCHANGED
        )
    assert merged.dtype == np.uint16
    np.testing.assert_array_equal(cv2.cvtColor(merged, cv2.COLOR_BGRA2RGBA), png)


def test_layered_formats_refuse_what_they_cannot_hold():
    for bad in ({"background": (0, 0, 0)}, {"crop_to_subject": True}, {"resize_long_side": 100}):
        with pytest.raises(ValueError, match="layered"):
            ExportOptions(format="psd", **bad)
    assert ExportOptions(format="ora", mask_only=True).extension == ".png"


GIMP_COUNT = """(let* ((image (car (gimp-file-load RUN-NONINTERACTIVE "{path}" "{path}")))
  (layers (gimp-image-get-layers image)) (ids (cadr layers)) (masks 0) (i 0))
  (while (< i (car layers))
    (if (> (car (gimp-layer-get-mask (aref ids i))) -1) (set! masks (+ masks 1)))
    (set! i (+ i 1)))
  (gimp-message (string-append "LAYERS " (number->string (car layers))
    " MASKS " (number->string masks))) (gimp-quit 0))"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("gimp") is None, reason="GIMP is not installed")
def test_gimp_opens_the_psd(photo, tmp_path):
    image, alpha, foreground = photo
    from bgeraser_gui.core.compose import render

    path = tmp_path / "x.psd"
    path.write_bytes(
        render(image, alpha, ExportOptions(format="psd"), foreground, two_objects(alpha))
    )
    result = subprocess.run(
        ["gimp", "-i", "-d", "-f", "--batch-interpreter", "plug-in-script-fu-eval",
         "-b", GIMP_COUNT.format(path=path)],
        capture_output=True, text=True, timeout=300, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert "LAYERS 4 MASKS 2" in result.stdout + result.stderr, result.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("krita") is None or shutil.which("xvfb-run") is None,
    reason="Krita (or xvfb-run) is not installed",
)
def test_krita_flattens_the_ora_like_the_png_export(photo, tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    from layered_roundtrip import krita_flatten, ora_showing, premultiplied_255, unit

    image, alpha, foreground = photo
    from bgeraser_gui.core.compose import render

    path = tmp_path / "x.ora"
    path.write_bytes(
        render(image, alpha, ExportOptions(format="ora"), foreground, two_objects(alpha))
    )
    png = unit(png_export(image, alpha, foreground))
    assert premultiplied_255(krita_flatten(path, timeout=300), png) <= 1.0
    # the user hides the cutout and shows the two object layers: the original under the alpha
    shown = ora_showing(path, lambda name: "subject" in name, tmp_path / "objects.ora")
    original = np.dstack([image.rgb / 255.0, np.rint(alpha * 255) / 255.0])
    assert premultiplied_255(krita_flatten(shown, timeout=300), original) <= 1.0
