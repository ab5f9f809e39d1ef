"""Loading photos: orientation, colour profiles, bit depths, and refusal of bad files."""

from __future__ import annotations

import io
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from bgeraser_gui.core.errors import (
    CorruptImageError,
    ImageLoadError,
    ImageTooLargeError,
    UnsupportedFormatError,
)
from bgeraser_gui.core.image_io import collect_images, decode_image, load_image


def upright_pattern(h: int = 6, w: int = 9) -> np.ndarray:
    """An asymmetric image: every pixel distinct, so any wrong flip/rotation shows."""
    y, x = np.mgrid[0:h, 0:w]
    return np.dstack([x * 25, y * 40, (x + y * w) % 256]).astype(np.uint8)


# stored = inverse of the display transform that EXIF orientation N asks for
STORED_FROM_UPRIGHT = {
    1: lambda u: u,
    2: lambda u: u[:, ::-1],
    3: lambda u: u[::-1, ::-1],
    4: lambda u: u[::-1, :],
    5: lambda u: u.transpose(1, 0, 2),
    6: lambda u: np.rot90(u, k=1),
    7: lambda u: np.rot90(u, 2).transpose(1, 0, 2),
    8: lambda u: np.rot90(u, k=-1),
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_and_reset_on_export(tmp_path, orientation):
    from bgeraser_gui.core.compose import ExportOptions, export_cutout

    upright = upright_pattern()
    stored = np.ascontiguousarray(STORED_FROM_UPRIGHT[orientation](upright))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"  # Make: must survive the round trip
    src = tmp_path / f"o{orientation}.png"
    Image.fromarray(stored).save(src, exif=exif.tobytes())

    loaded = load_image(src)
    np.testing.assert_array_equal(loaded.rgb, upright)

    out = export_cutout(
        loaded,
        np.full(upright.shape[:2], 255, np.uint8),
        tmp_path / "out.png",
        ExportOptions(existing="overwrite"),
    )
    with Image.open(out) as written:
        assert written.getexif().get(0x0112, 1) == 1
        assert written.getexif().get(0x010F) == "TestCam"
        np.testing.assert_array_equal(np.asarray(written)[..., :3], upright)
    reloaded = load_image(out)
    np.testing.assert_array_equal(reloaded.rgb, upright)


def test_icc_profile_is_kept(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "profiled.jpg"
    Image.fromarray(upright_pattern(40, 60)).save(src, icc_profile=icc, quality=95)
    assert load_image(src).icc_profile == icc


def test_16bit_grey_and_rgb_are_scaled_not_clipped(tmp_path):
    values = upright_pattern(8, 8)
    grey16 = values[..., 0].astype(np.uint16) * 257
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    loaded = load_image(tmp_path / "g16.png")
    assert loaded.bit_depth == 16
    np.testing.assert_array_equal(loaded.rgb[..., 1], values[..., 0])

    rgb16 = values.astype(np.uint16) * 257
    cv2.imwrite(str(tmp_path / "rgb16.png"), rgb16[..., ::-1])
    loaded = load_image(tmp_path / "rgb16.png")
    np.testing.assert_array_equal(loaded.rgb, values)


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path):
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[:, :32] = (200, 30, 30)
    rgb[:, 32:] = (20, 60, 220)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    loaded = load_image(tmp_path / "c.jpg")
    assert loaded.rgb.shape == (64, 64, 3)
    assert np.abs(loaded.rgb.astype(int) - rgb.astype(int)).mean() < 8


def test_alpha_of_source_is_kept(tmp_path):
    rgba = np.dstack([upright_pattern(), np.full((6, 9), 77, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    loaded = load_image(tmp_path / "a.png")
    assert loaded.alpha is not None and int(loaded.alpha[0, 0]) == 77


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"", CorruptImageError),
        (b"hello, this is text\n" * 10, UnsupportedFormatError),
        (np.random.default_rng(0).bytes(4096), UnsupportedFormatError),
        (b"P6\n2 2\n255\n" + bytes(12), UnsupportedFormatError),  # PPM: valid, not supported
    ],
)
def test_bad_payloads_raise_typed_errors(tmp_path, payload, error):
    path = tmp_path / "x.jpg"
    path.write_bytes(payload)
    with pytest.raises(error) as info:
        load_image(path)
    assert "x.jpg" in str(info.value) and "\n" not in str(info.value)


def test_truncated_jpeg_is_corrupt():
    buf = io.BytesIO()
    Image.fromarray(upright_pattern(200, 300)).save(buf, "JPEG")
    with pytest.raises(CorruptImageError):
        decode_image(buf.getvalue()[: len(buf.getvalue()) // 2], name="t.jpg")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageLoadError, match="not found"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageLoadError, match="folder"):
        load_image(tmp_path)


def test_pixel_limit_is_configurable(tmp_path):
    Image.fromarray(upright_pattern(100, 100)).save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png", max_pixels=10_000).width == 100
    with pytest.raises(ImageTooLargeError, match="limit"):
        load_image(tmp_path / "p.png", max_pixels=9_999)


def test_decompression_bomb_is_refused_without_allocating(shared_dir, tmp_path):
    subprocess.run(
        [sys.executable, str(shared_dir / "tools" / "make-bad-inputs.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(ImageTooLargeError):
        load_image(tmp_path / "bad_bomb_100000x100000.png")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50_000_000  # the bomb would need 30 GB


def test_collect_images_expands_folders(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.JPG", "a.png", "sub/c.webp", "notes.txt", ".hidden.png"):
        (tmp_path / name).write_bytes(b"x")
    names = [p.name for p in collect_images([tmp_path])]
    assert names == ["a.png", "b.JPG", "c.webp"]
    assert [p.name for p in collect_images([tmp_path], recursive=False)] == ["a.png", "b.JPG"]
    # explicitly named files are kept (and later reported) even when not images
    assert [p.name for p in collect_images([tmp_path / "notes.txt"])] == ["notes.txt"]
