"""Export: formats with alpha, backgrounds, crop, watermark, ICC, atomicity, file policies."""

from __future__ import annotations

import contextlib
import errno
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from bgeraser_gui.core import compose
from bgeraser_gui.core.compose import (
    ExportOptions,
    compose_image,
    export_cutout,
    output_path_for,
    parse_color,
    subject_box,
)
from bgeraser_gui.core.errors import ExportError
from bgeraser_gui.core.image_io import LoadedImage, load_image
from bgeraser_gui.core.watermark import Watermark


def make_image(h=60, w=80, icc=None, path=None) -> LoadedImage:
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.dstack([x * 3, y * 4, np.full_like(x, 90)]).astype(np.uint8)
    return LoadedImage(
        path=path, rgb=rgb, alpha=None, icc_profile=icc, exif=None, bit_depth=8, format="PNG"
    )


def disc_alpha(h=60, w=80) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    alpha = np.zeros((h, w), np.uint8)
    alpha[(x - 40) ** 2 + (y - 30) ** 2 < 15**2] = 255
    alpha[30, 20:25] = 128  # some soft pixels
    return alpha


@pytest.mark.parametrize("fmt", ["png", "webp", "tiff"])
def test_formats_with_alpha_round_trip_exactly(tmp_path, fmt):
    image, alpha = make_image(), disc_alpha()
    out = export_cutout(
        image, alpha, tmp_path / f"o{compose.FORMATS[fmt]}", ExportOptions(format=fmt)
    )
    with Image.open(out) as written:
        assert written.mode == "RGBA"
        data = np.asarray(written)
    np.testing.assert_array_equal(data[..., 3], alpha)
    np.testing.assert_array_equal(data[..., :3], image.rgb)


@pytest.mark.parametrize("fmt", ["png", "webp", "tiff"])
def test_icc_profile_survives_export(tmp_path, fmt):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = export_cutout(
        make_image(icc=icc),
        disc_alpha(),
        tmp_path / f"o{compose.FORMATS[fmt]}",
        ExportOptions(format=fmt),
    )
    with Image.open(out) as written:
        assert written.info.get("icc_profile") == icc


def test_mask_only_is_8bit_png_of_the_alpha(tmp_path):
    alpha = disc_alpha()
    options = ExportOptions(mask_only=True, format="webp")
    target = output_path_for("/photos/car.jpg", tmp_path, options)
    assert target.name == "car_mask.png"
    export_cutout(make_image(), alpha, target, options)
    with Image.open(target) as written:
        assert written.mode == "L" and written.format == "PNG"
        np.testing.assert_array_equal(np.asarray(written), alpha)


def test_flatten_on_colour_blends_by_alpha():
    image, alpha = make_image(), disc_alpha()
    flat = np.asarray(compose_image(image, alpha, ExportOptions(background=(255, 0, 0))))
    assert flat.shape == (60, 80, 3)
    np.testing.assert_array_equal(flat[0, 0], [255, 0, 0])  # background
    np.testing.assert_array_equal(flat[30, 40], image.rgb[30, 40])  # subject
    expected = np.rint(image.rgb[30, 20] * (128 / 255) + np.array([255, 0, 0]) * (127 / 255))
    np.testing.assert_array_equal(flat[30, 20], expected)


def test_flatten_on_background_image_covers(tmp_path):
    bg = np.zeros((10, 40, 3), np.uint8)
    bg[:, :20] = (0, 255, 0)
    bg[:, 20:] = (0, 0, 255)
    Image.fromarray(bg).save(tmp_path / "bg.png")
    flat = np.asarray(
        compose_image(
            make_image(),
            np.zeros((60, 80), np.uint8),
            ExportOptions(background=tmp_path / "bg.png"),
        )
    )
    assert flat.shape == (60, 80, 3)  # covered: no letterbox
    assert tuple(flat[30, 2]) == (0, 255, 0) and tuple(flat[30, 77]) == (0, 0, 255)


def test_crop_to_subject_with_margin_and_resize():
    alpha = disc_alpha()
    box = subject_box(alpha, margin=5)
    assert box == (15, 11, 60, 50)  # soft pixels at x=20 count as subject
    cropped = compose_image(
        make_image(), alpha, ExportOptions(crop_to_subject=True, crop_margin_px=5)
    )
    assert cropped.size == (45, 39)
    resized = compose_image(make_image(), alpha, ExportOptions(resize_long_side=160))
    assert resized.size == (160, 120)


def test_watermark_changes_only_its_corner():
    image = make_image(200, 300)
    alpha = np.full((200, 300), 255, np.uint8)
    plain = np.asarray(compose_image(image, alpha, ExportOptions(background=(0, 0, 0))))
    marked = np.asarray(
        compose_image(
            image,
            alpha,
            ExportOptions(
                background=(0, 0, 0), watermark=Watermark(text="SHOP", opacity=1.0, size=0.3)
            ),
        )
    )
    changed = np.argwhere(np.any(plain != marked, axis=2))
    assert len(changed) > 100
    assert changed[:, 0].min() > 100 and changed[:, 1].min() > 150  # bottom-right quadrant


def test_watermark_keeps_transparency_elsewhere():
    alpha = np.zeros((200, 300), np.uint8)
    out = np.asarray(
        compose_image(
            make_image(200, 300),
            alpha,
            ExportOptions(watermark=Watermark(text="SHOP", position="top-left", opacity=0.8)),
        )
    )
    assert out[199, 299, 3] == 0 and out[:60, :100, 3].max() > 0


def test_parse_color():
    assert parse_color("#10ff00") == (16, 255, 0)
    with pytest.raises(ValueError):
        parse_color("#12")
    with pytest.raises(ValueError):
        ExportOptions(format="jpeg")  # JPEG needs a background


def test_existing_output_policies(tmp_path):
    image, alpha = make_image(), disc_alpha()
    target = tmp_path / "x_cutout.png"
    target.write_bytes(b"old")
    assert export_cutout(image, alpha, target, ExportOptions(existing="skip")) is None
    assert target.read_bytes() == b"old"
    numbered = export_cutout(image, alpha, target, ExportOptions(existing="number"))
    assert numbered.name == "x_cutout-2.png" and target.read_bytes() == b"old"
    # "overwrite" replaces only what bgeraser wrote (the ledger proves it), never b"old"
    with pytest.raises(ExportError, match="did not write"):
        export_cutout(image, alpha, target, ExportOptions(existing="overwrite"))
    assert target.read_bytes() == b"old"
    mine = numbered.read_bytes()
    assert export_cutout(image, alpha, numbered, ExportOptions(existing="overwrite")) == numbered
    assert numbered.read_bytes()[:4] == b"\x89PNG" and numbered.read_bytes() == mine


def test_input_is_never_overwritten(tmp_path):
    src = tmp_path / "photo.png"
    Image.fromarray(make_image().rgb).save(src)
    before = src.read_bytes()
    image = load_image(src)
    with pytest.raises(ExportError, match="original"):
        export_cutout(image, disc_alpha(), src, ExportOptions(existing="overwrite"))
    other = export_cutout(image, disc_alpha(), src, ExportOptions(existing="number"))
    assert other != src and src.read_bytes() == before


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    def half_then_fail(result, tmp, image, options):
        Path(tmp).write_bytes(b"\x89PNG partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(compose, "_save", half_then_fail)
    with pytest.raises(ExportError, match="disk is full"):
        export_cutout(make_image(), disc_alpha(), tmp_path / "o.png", ExportOptions())
    assert list(tmp_path.iterdir()) == []


@contextlib.contextmanager
def read_only_folder(path: Path):
    """A folder nobody can write into, root included (immutable attribute when root)."""
    immutable = subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    if not immutable:
        path.chmod(0o555)
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            path.chmod(0o755)


def test_read_only_output_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only_folder(folder):
        probe = folder / "probe"
        try:
            probe.write_bytes(b"")
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip("cannot make a read-only folder on this filesystem")
        with pytest.raises(ExportError, match="permission denied"):
            export_cutout(make_image(), disc_alpha(), folder / "o.png", ExportOptions())
    assert list(folder.iterdir()) == []
