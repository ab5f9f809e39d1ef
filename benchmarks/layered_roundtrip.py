"""Round trip of the layered and 16-bit exports on real photos (issue 18.4/18.5).

For each photo: one cutout with the real model (default settings; the result is cached under
--cache), then the exports the CLI writes (PNG, TIFF, ORA, PSD) through `Pipeline.export`, read
back: layer count and names, masks adding up to the cutout's alpha, the flattened result against
the PNG export (max difference in 1/255), 16-bit depth and ICC profile; the PSD is opened in GIMP
(`gimp -i -b`, when installed) and the ORA flattened by Krita (`krita --export` under
`xvfb-run`, when installed): as saved (the cutout layer shown) and with the object layers shown
instead, against the PNG export and the original under the cutout's alpha (as composited:
colour x alpha). Krita's OpenRaster import builds an 8-bit image, so a 16-bit ORA is flattened
through Krita's own 16 -> 8-bit conversion (GT05 with the real model: 8-bit ORA 0/255 as saved
and 0.5/255 with the objects shown; its 16-bit copy 0.89/255 and 0.92/255). A 16-bit copy of each photo (halved in float, sRGB profile)
checks the 16-bit path. Prints CPU seconds per writer.

    python benchmarks/layered_roundtrip.py --model /work/models-cache/isnet_medium_fp16.onnx \
        /work/shared/eval/alphamatting_train27/images/GT05.png /work/shared/perf/bike_3000x2000.jpg
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image, ImageCms
from psd_tools import PSDImage

from bgeraser_gui.assemble import PipelineSpec, build_pipeline
from bgeraser_gui.core.compose import ExportOptions
from bgeraser_gui.core.image_io import load_image

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
GIMP_SCRIPT = """(let* ((image (car (gimp-file-load RUN-NONINTERACTIVE "{path}" "{path}")))
  (layers (gimp-image-get-layers image)) (ids (cadr layers)) (masks 0) (i 0))
  (while (< i (car layers))
    (if (> (car (gimp-layer-get-mask (aref ids i))) -1) (set! masks (+ masks 1)))
    (set! i (+ i 1)))
  (gimp-message (string-append "LAYERS " (number->string (car layers)) " MASKS "
    (number->string masks) " BITS " (number->string (car (gimp-image-get-precision image)))))
  (gimp-quit 0))"""


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def read_any(path: Path) -> np.ndarray:
    """The file's pixels at their depth (OpenCV for 16 bits, which Pillow reads as 8; Pillow
    for 8 bits: OpenCV premultiplies 8-bit RGBA TIFFs)."""
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is not None and pixels.dtype == np.uint16:
        code = cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
        return cv2.cvtColor(pixels, code)
    with Image.open(path) as im:
        return np.asarray(im)


def unit(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float64) / (65535.0 if pixels.dtype == np.uint16 else 255.0)


def check_ora(path: Path, png: np.ndarray, alpha: np.ndarray) -> dict:
    with zipfile.ZipFile(path) as archive:
        first = archive.infolist()[0]
        layers = ET.fromstring(archive.read("stack.xml")).findall("./stack/layer")
        merged = cv2.imdecode(
            np.frombuffer(archive.read("mergedimage.png"), np.uint8), cv2.IMREAD_UNCHANGED
        )
        merged = cv2.cvtColor(merged, cv2.COLOR_BGRA2RGBA)
        total = np.zeros(alpha.shape)
        for layer in layers[1:-1]:
            data = np.frombuffer(archive.read(layer.get("src")), np.uint8)
            pixels = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
            x, y = int(layer.get("x")), int(layer.get("y"))
            total[y : y + pixels.shape[0], x : x + pixels.shape[1]] += unit(pixels)[..., 3]
    return {
        "mimetype_first_stored": first.filename == "mimetype" and first.compress_type == 0,
        "layers": [layer.get("name") for layer in layers],
        "merged_vs_png_255": float(np.abs(unit(merged) - unit(png)).max() * 255),
        "masks_vs_alpha_255": float(np.abs(total - alpha).max() * 255),
        "bits": 16 if merged.dtype == np.uint16 else 8,
    }


def check_psd(path: Path, png: np.ndarray, alpha: np.ndarray) -> dict:
    psd = PSDImage.open(path)
    layers = list(psd)
    total = np.zeros(alpha.shape)
    for layer in layers[1:-1]:
        left, top, right, bottom = layer.mask.bbox
        mask = layer.numpy("mask")  # at the document's depth (topil would give 8 bits)
        total[top:bottom, left:right] += mask.reshape(mask.shape[:2])
    flat = unit(png)
    rendered = np.asarray(psd.composite(ignore_preview=True).convert("RGBA"), np.float64) / 255
    shown = flat[..., 3] > 0.5
    return {
        "layers": [layer.name for layer in layers],
        "masks": sum(layer.has_mask() for layer in layers),
        "cutout_layer_vs_png_255": float(np.abs(layers[-1].numpy() - flat).max() * 255),
        "rendered_alpha_vs_png_255": float(np.abs(rendered[..., 3] - flat[..., 3]).max() * 255),
        "rendered_rgb_vs_png_255 (alpha>0.5)": float(
            np.abs(rendered[shown][:, :3] - flat[shown][:, :3]).max() * 255
        ),
        "masks_vs_alpha_255": float(np.abs(total - alpha).max() * 255),
        "depth": psd.depth,
        "icc": psd.image_resources.get_data(1039) is not None,
    }


def gimp_opens(path: Path) -> str:
    if shutil.which("gimp") is None:
        return "skipped: GIMP is not installed"
    with tempfile.TemporaryDirectory() as home:
        run = subprocess.run(
            ["gimp", "-i", "-d", "-f", "--batch-interpreter", "plug-in-script-fu-eval",
             "-b", GIMP_SCRIPT.format(path=path)],
            capture_output=True, text=True, timeout=600, env={"HOME": home, "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
    found = [line for line in (run.stdout + run.stderr).splitlines() if "LAYERS" in line]
    return found[-1].split(": ", 1)[-1] if found else f"failed: {run.stderr[-300:]}"


def krita_flatten(path: Path, timeout: float = 600) -> np.ndarray | None:
    """The file flattened by Krita (`krita FILE --export`, headless under xvfb-run), RGBA
    float in [0, 1]; None when Krita or xvfb-run is not installed."""
    if shutil.which("krita") is None or shutil.which("xvfb-run") is None:
        return None
    with tempfile.TemporaryDirectory() as home:
        out = Path(home) / "flat.png"
        command = ["xvfb-run", "-a", "krita", str(path), "--export", "--export-filename", str(out)]
        env = {"HOME": home, "PATH": "/usr/bin:/bin"}
        # its own process group: a timeout ends Xvfb and Krita too, not only xvfb-run
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, start_new_session=True) as run:  # fmt: skip
            try:
                _, stderr = run.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
                raise
        if not out.exists():
            raise RuntimeError(f"Krita wrote nothing (rc {run.returncode}): {stderr[-500:]}")
        return unit(read_any(out))


def ora_showing(path: Path, shown: Callable[[str], bool], out: Path) -> Path:
    """A copy of the ORA with the layers `shown(name)` visible and the others hidden (what a
    user does in the reader)."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as copy:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "stack.xml":
                stack = ET.fromstring(data)
                for layer in stack.iter("layer"):
                    layer.set("visibility", "visible" if shown(layer.get("name")) else "hidden")
                data = ET.tostring(stack, encoding="utf-8", xml_declaration=True)
            copy.writestr(info, data)
    return out


def premultiplied_255(a: np.ndarray, b: np.ndarray) -> float:
    """Max difference of two RGBA float images as composited (colour x alpha), in 1/255."""
    pa = np.concatenate([a[..., :3] * a[..., 3:], a[..., 3:]], axis=2)
    pb = np.concatenate([b[..., :3] * b[..., 3:], b[..., 3:]], axis=2)
    return float(np.abs(pa - pb).max() * 255)


def check_krita(path: Path, png: np.ndarray, source: np.ndarray, alpha: np.ndarray) -> dict:
    """Krita's flattening of the ORA as saved against the PNG export, and with only the object
    layers shown against the original pixels under the cutout's alpha."""
    as_saved = krita_flatten(path)
    if as_saved is None:
        return {"skipped": "Krita or xvfb-run is not installed"}
    objects = ora_showing(path, lambda name: name not in ("cutout", "original"),
                          path.with_name(path.stem + "_objects.ora"))  # fmt: skip
    shown = krita_flatten(objects)
    original = np.dstack([unit(source), alpha])
    return {
        "flattened_vs_png_255 (premultiplied)": premultiplied_255(as_saved, unit(png)),
        "objects_shown_vs_original_x_alpha_255": premultiplied_255(shown, original),
    }


def sixteen_bit_copy(photo: Path, folder: Path) -> Path:
    bgr = cv2.imread(str(photo)).astype(np.float32)
    half = cv2.resize(bgr, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    rgb16 = np.clip(np.rint(cv2.cvtColor(half, cv2.COLOR_BGR2RGB) * 257.0), 0, 65535)
    path = folder / f"{photo.stem}_16bit.tif"
    tifffile.imwrite(path, rgb16.astype(np.uint16), photometric="rgb", iccprofile=SRGB)
    return path


def run_photo(pipeline, photo: Path, out: Path, cache: Path) -> None:
    image = load_image(photo)
    cached = cache / f"{photo.stem}_{image.width}x{image.height}.npz"
    if cached.exists():
        saved = np.load(cached)
        alpha, foreground = saved["alpha"], saved["foreground"]
    else:
        result = pipeline.cutout(image)
        alpha, foreground = result.alpha, result.foreground
        np.savez(cached, alpha=alpha, foreground=foreground)
    print(f"\n{photo.name}: {image.width}x{image.height}, {image.bit_depth}-bit")
    written = {}
    for fmt in ("png", "tiff", "ora", "psd"):
        started, wall = cpu(), time.perf_counter()
        written[fmt] = pipeline.export(
            image, alpha, out / f"{photo.stem}.{fmt}", foreground, ExportOptions(format=fmt)
        )
        size = written[fmt].stat().st_size / 1e6
        print(f"  {fmt}: {cpu() - started:.2f} s CPU, {time.perf_counter() - wall:.2f} s wall, "
              f"{size:.1f} MB")  # fmt: skip
    png = read_any(written["png"])
    tiff = read_any(written["tiff"])
    print(f"  png bits {png.dtype.itemsize * 8}, tiff bits {tiff.dtype.itemsize * 8}, "
          f"tiff == png: {np.array_equal(png, tiff)}")  # fmt: skip
    if image.rgb16 is not None:
        opaque = alpha >= 1.0
        exact = np.array_equal(png[..., :3][opaque], image.rgb16[opaque])
        with Image.open(written["png"]) as im:
            icc = im.info.get("icc_profile") == image.icc_profile
        print(f"  16-bit: opaque colours exact {exact}, ICC kept {icc}, "
              f"distinct alpha levels {len(np.unique(png[..., 3]))}")  # fmt: skip
    print("  ora:", check_ora(written["ora"], png, alpha))
    print("  psd:", check_psd(written["psd"], png, alpha))
    print("  GIMP opens the psd:", gimp_opens(written["psd"]))
    source = image.rgb16 if image.rgb16 is not None else image.rgb
    print("  Krita flattens the ora:", check_krita(written["ora"], png, source, alpha))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", nargs="+", type=Path)
    parser.add_argument("--model", default=None)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "layered-rt")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    out = args.out or Path(tempfile.mkdtemp(prefix="layered-rt-"))
    out.mkdir(parents=True, exist_ok=True)
    pipeline = build_pipeline(PipelineSpec(model=args.model, device="cpu"))
    for photo in args.photos:
        run_photo(pipeline, photo, out, args.cache)
        run_photo(pipeline, sixteen_bit_copy(photo, out), out, args.cache)
    print(f"\nfiles in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
