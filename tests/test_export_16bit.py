"""16-bit end to end (issue 18.5): a real photo converted to 16-bit with an ICC profile goes out
as 16-bit PNG / TIFF (colours and alpha), with the profile, through the one export path."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from bgeraser_gui.core.compose import ExportOptions
from bgeraser_gui.core.deep_export import encode_png16
from bgeraser_gui.core.image_io import load_image
from bgeraser_gui.core.pipeline import Pipeline

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
U16 = 65535.0


def real_photo_16bit(eval_dir) -> np.ndarray:
    """GT05 of alphamatting halved in float: real detail with values between the 8-bit steps."""
    bgr = cv2.imread(str(eval_dir / "alphamatting_train27" / "images" / "GT05.png"))
    small = cv2.resize(bgr.astype(np.float32), None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    return np.clip(np.rint(rgb * 257.0), 0, 65535).astype(np.uint16)


@pytest.fixture(scope="module")
def photo16(eval_dir, tmp_path_factory):
    rgb16 = real_photo_16bit(eval_dir)
    folder = tmp_path_factory.mktemp("x16")
    tiff = folder / "x16.tif"
    tifffile.imwrite(tiff, rgb16, photometric="rgb", iccprofile=SRGB)
    png = folder / "x16.png"
    png.write_bytes(encode_png16(rgb16, SRGB, None))
    assert (rgb16 % 257 != 0).mean() > 0.5  # the test data really uses the 16 bits
    return rgb16, tiff, png


def soft_alpha(shape) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    radius = np.hypot(yy - shape[0] / 2, xx - shape[1] / 2) / (min(shape) / 2)
    return np.clip(1.5 - radius * 1.2, 0.0, 1.0).astype(np.float32)


def read16(path) -> np.ndarray:
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert pixels is not None and pixels.dtype == np.uint16, (path, getattr(pixels, "dtype", None))
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(
            pixels, cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
        )
    return pixels


def icc_of(path) -> bytes | None:
    with Image.open(path) as im:
        return im.info.get("icc_profile")


@pytest.mark.parametrize("source", ["tiff", "png"])
def test_load_keeps_16bit_colours(photo16, source):
    rgb16, tiff, png = photo16
    image = load_image(tiff if source == "tiff" else png)
    assert image.bit_depth == 16 and image.icc_profile == SRGB
    np.testing.assert_array_equal(image.rgb16, rgb16)
    np.testing.assert_array_equal(image.rgb, np.rint(rgb16 / 257.0).astype(np.uint8))


@pytest.mark.parametrize("fmt,ext", [("png", ".png"), ("tiff", ".tif")])
def test_cutout_16bit_colour_alpha_and_icc(photo16, tmp_path, fmt, ext):
    rgb16, tiff, _ = photo16
    image = load_image(tiff)
    alpha = soft_alpha(rgb16.shape[:2])
    written = Pipeline().export(
        image, alpha, tmp_path / f"out{ext}", options=ExportOptions(format=fmt)
    )
    rgba = read16(written)
    assert rgba.shape == (*rgb16.shape[:2], 4)
    np.testing.assert_array_equal(rgba[..., :3], rgb16)  # no 8-bit step anywhere
    np.testing.assert_array_equal(rgba[..., 3], np.rint(alpha * U16).astype(np.uint16))
    assert len(np.unique(rgba[..., 3])) > 256  # alpha really has more than 8 bits
    assert icc_of(written) == SRGB


def test_decontaminated_edges_and_background_keep_16bit(photo16, tmp_path):
    rgb16, tiff, _ = photo16
    image = load_image(tiff)
    alpha = soft_alpha(rgb16.shape[:2])
    foreground = image.rgb.astype(np.float32) / 255.0
    band = (alpha > 0.2) & (alpha < 0.8)
    foreground[band] = np.clip(foreground[band] * 0.9 + 0.05, 0, 1)  # a decontamination's shift
    pipeline = Pipeline()
    out = pipeline.export(image, alpha, tmp_path / "fg.png", foreground, ExportOptions())
    rgba = read16(out)
    np.testing.assert_array_equal(rgba[..., :3][~band], rgb16[~band])
    shifted = rgb16 / U16 + (foreground - image.rgb / 255.0)
    expected = np.rint(np.clip(shifted, 0, 1) * U16)
    assert np.abs(rgba[..., :3][band] - expected[band]).max() <= 1
    # onto a colour: alpha * colour + (1 - alpha) * background, rounded once at 16 bits
    flat_options = ExportOptions(background=(20, 40, 250))
    flat = read16(pipeline.export(image, alpha, tmp_path / "flat.png", None, flat_options))
    a = alpha[..., None]
    expected = np.rint((rgb16 / U16 * a + np.array([20, 40, 250]) / 255.0 * (1 - a)) * U16)
    assert flat.shape == rgb16.shape
    assert np.abs(flat.astype(float) - expected).max() <= 1


def test_mask_resize_crop_and_watermark_stay_16bit(photo16, tmp_path):
    from bgeraser_gui.core.watermark import Watermark

    rgb16, tiff, _ = photo16
    image = load_image(tiff)
    alpha = soft_alpha(rgb16.shape[:2])
    mask = read16(
        Pipeline().export(image, alpha, tmp_path / "m.png", options=ExportOptions(mask_only=True))
    )
    np.testing.assert_array_equal(mask, np.rint(alpha * U16).astype(np.uint16))
    options = ExportOptions(crop_to_subject=True, resize_long_side=101,
                            watermark=Watermark(text="bg", opacity=0.5))  # fmt: skip
    small = read16(Pipeline().export(image, alpha, tmp_path / "s.tif", options=ExportOptions(
        format="tiff", crop_to_subject=True, resize_long_side=101)))  # fmt: skip
    assert max(small.shape[:2]) == 101 and small.shape[2] == 4
    marked = read16(Pipeline().export(image, alpha, tmp_path / "w.png", options=options))
    assert marked.shape == small.shape
    assert np.abs(marked.astype(int) - small.astype(int)).max() > 1000  # the mark is drawn
    assert (small[..., :3] % 257 != 0).mean() > 0.3


def test_8bit_only_where_the_format_has_nothing_else(photo16, tmp_path):
    _, tiff, _ = photo16
    image = load_image(tiff)
    alpha = soft_alpha(image.rgb.shape[:2])
    webp = Pipeline().encode(image, alpha, options=ExportOptions(format="webp"))
    jpeg = Pipeline().encode(
        image, alpha, options=ExportOptions(format="jpeg", background=(0, 0, 0))
    )
    eight = Pipeline().encode(image, alpha, options=ExportOptions(sixteen_bit=False))
    for data in (webp, jpeg, eight):
        with Image.open(io.BytesIO(data)) as im:
            assert im.mode in ("RGB", "RGBA")
            assert im.info.get("icc_profile") == SRGB


def test_8bit_source_stays_8bit(tmp_path, eval_dir):
    image = load_image(eval_dir / "alphamatting_train27" / "images" / "GT05.png")
    assert image.rgb16 is None and image.bit_depth == 8
    data = Pipeline().encode(image, soft_alpha(image.rgb.shape[:2]), options=ExportOptions())
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED).dtype == np.uint8


def test_cli_pipeline_refined_16bit_tiff_and_psd(photo16, tmp_path):
    """`bgeraser-cli cutout x16.tif --format tiff|psd` runs `process_file`: model, refinement
    with decontamination, export; the opaque subject keeps its exact 16-bit colours."""
    from batch_fakes import make_backend
    from psd_tools import PSDImage

    from bgeraser_gui.assemble import PipelineSpec, build_pipeline

    rgb16, tiff, _ = photo16
    for fmt in ("tiff", "psd"):
        spec = PipelineSpec(
            backend_factory=make_backend, refine=True, export=ExportOptions(format=fmt)
        )
        pipeline = build_pipeline(spec)
        written = pipeline.process_file(tiff, tmp_path)
        alpha = pipeline.last_result.alpha
        if fmt == "psd":
            psd = PSDImage.open(written)
            assert psd.depth == 16 and psd.image_resources.get_data(1039) == SRGB
            continue
        rgba = read16(written)
        assert icc_of(written) == SRGB
        opaque = alpha >= 1.0
        assert opaque.mean() > 0.2 and ((alpha > 0) & (alpha < 1)).any()
        np.testing.assert_array_equal(rgba[..., :3][opaque], rgb16[opaque])
        np.testing.assert_array_equal(rgba[..., 3], np.rint(alpha * U16).astype(np.uint16))


def test_16bit_composition_makes_no_full_size_float_copies():
    """Issue 15.7's bound holds at 16 bits: the uint16 RGBA result (8 B/px) plus bands of rows
    (~4 B/px here); one float32 HxWx3 copy would add 12 B/px, one HxW alpha copy 4."""
    from test_memory_bounds import _peak_bytes_per_pixel, _soft_disc

    from bgeraser_gui.core.compose import compose_image
    from bgeraser_gui.core.image_io import LoadedImage

    height, width = 1600, 1000
    rng = np.random.default_rng(9)
    rgb16 = rng.integers(0, 65535, (height, width, 3)).astype(np.uint16)
    rgb8 = cv2.convertScaleAbs(rgb16, alpha=1 / 257)
    image = LoadedImage(None, rgb8, None, None, None, 16, "TIFF", rgb16=rgb16)
    foreground = rgb8.astype(np.float32) / 255.0
    alpha = _soft_disc(height, width)
    result, per_pixel = _peak_bytes_per_pixel(
        height * width, compose_image, image, alpha, ExportOptions(), foreground
    )
    np.testing.assert_array_equal(result.pixels[..., :3], rgb16)
    assert per_pixel < 14


@pytest.mark.slow
def test_cli_cutout_16bit_tiff_with_the_real_model(photo16, tmp_path, isnet_fp16_path):
    """`bgeraser-cli cutout x16.tif -o out --format tiff|png` with the real ISNet and the
    default refinement: 16-bit out, opaque subject colours exact, 16-bit alpha, ICC kept."""
    from bgeraser_gui.cli import main

    rgb16, tiff, _ = photo16
    for fmt, ext in (("tiff", ".tif"), ("png", ".png")):
        code = main(["cutout", str(tiff), "-o", str(tmp_path), "--format", fmt,
                     "--model", str(isnet_fp16_path), "--device", "cpu", "-q"])  # fmt: skip
        assert code == 0
        written = tmp_path / f"x16_cutout{ext}"
        rgba = read16(written)
        assert icc_of(written) == SRGB
        opaque = rgba[..., 3] == 65535
        assert opaque.mean() > 0.1
        np.testing.assert_array_equal(rgba[..., :3][opaque], rgb16[opaque])
        assert len(np.unique(rgba[..., 3])) > 256


def test_16bit_and_8bit_tiffs_keep_the_exif_with_its_exif_and_gps_directories(photo16, tmp_path):
    rgb16, _, _ = photo16
    exif = Image.Exif()
    exif.update({0x010F: "Canon", 0x0110: "EOS R5", 0x0132: "2024:05:06 07:08:09", 0x0112: 1})
    exif.get_ifd(0x8769).update({0x829A: (1, 200), 0x8827: 400, 0x9003: "2024:05:06 07:08:09"})
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.5)})
    source = tmp_path / "exif16.png"
    source.write_bytes(encode_png16(rgb16, SRGB, exif.tobytes()))
    image = load_image(source)
    assert image.exif is not None and image.rgb16 is not None
    alpha = soft_alpha(rgb16.shape[:2])
    deep = Pipeline().export(image, alpha, tmp_path / "out16.tif", options=ExportOptions("tiff"))
    eight = load_image(source)
    eight.rgb16 = None  # the same photo through the 8-bit path (it raised before: Pillow's
    # compressed TIFF writer fails on an EXIF with an Exif directory, i.e. any camera photo)
    flat = Pipeline().export(eight, alpha, tmp_path / "out8.tif", options=ExportOptions("tiff"))
    want = Image.Exif()
    want.load(image.exif)
    for written in (deep, flat):
        with Image.open(written) as im:
            got = im.getexif()
            for code in (0x010F, 0x0110, 0x0132, 0x0112):
                assert got.get(code) == want[code] == exif[code], hex(code)
            for pointer in (0x8769, 0x8825):
                assert dict(got.get_ifd(pointer)) == dict(want.get_ifd(pointer)) != {}
    with Image.open(flat) as im:
        np.testing.assert_array_equal(np.asarray(im)[..., :3], eight.rgb)
    assert read16(deep).shape == (*rgb16.shape[:2], 4)  # still a valid 16-bit TIFF
    np.testing.assert_array_equal(read16(deep)[..., :3], rgb16)
    assert icc_of(deep) == SRGB
