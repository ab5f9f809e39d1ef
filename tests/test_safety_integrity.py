"""Issue 15, integrity: a damaged model is refused on load (hash checked, remembered by size,
mtime and inode), `models import` builds and runs a network before accepting it, and every
decode (watermark image, resume check, any other Image.open) stays under the size guard."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from batch_fakes import write_photo
from PIL import Image
from safety_helpers import run_batch

from bgeraser_gui.backends import model_cache
from bgeraser_gui.backends.download import ensure_model
from bgeraser_gui.backends.loader import resolve_model
from bgeraser_gui.backends.registry import find_spec
from bgeraser_gui.core.errors import ModelError


def _flip_bits(path: Path, count: int = 10, start: int = 4096) -> None:
    data = bytearray(path.read_bytes())
    step = max(1, (len(data) - start) // (count + 1))
    for i in range(count):
        data[start + i * step] ^= 0x10
    path.write_bytes(bytes(data))


def _custom_model(folder: Path, name: str, content: bytes) -> Path:
    """An imported model as the cache holds it: the file and its sidecar with its hashes."""
    path = folder / "custom" / f"{name}.onnx"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    sidecar = {
        "name": name,
        "like": "isnet-general-use",
        "md5": hashlib.md5(content).hexdigest(),
        "sha256": hashlib.sha256(content).hexdigest(),
        "size_bytes": len(content),
    }
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    return path


def test_a_damaged_cached_model_is_refused_on_load(tmp_path, monkeypatch):
    from bgeraser_gui.backends import model_check

    path = _custom_model(tmp_path, "mine", np.random.default_rng(0).bytes(64 * 1024))
    hashed = []
    real = model_check.file_hashes
    monkeypatch.setattr(
        model_check, "file_hashes", lambda *a, **k: hashed.append(1) or real(*a, **k)
    )
    assert ensure_model("mine", folder=tmp_path) == path
    assert ensure_model("mine", folder=tmp_path) == path
    assert len(hashed) == 1  # remembered by size + mtime + inode
    _flip_bits(path)  # same size, 10 bits differ
    with pytest.raises(ModelError, match="damaged"):
        ensure_model("mine", folder=tmp_path)


def test_a_model_path_named_like_a_registry_file_must_be_that_file(tmp_path):
    spec = find_spec("u2netp")
    fake = tmp_path / spec.file_name
    fake.write_bytes(b"\0" * 1000)
    with pytest.raises(ModelError, match="damaged or not"):
        resolve_model(str(fake))


def _tiny_conv_onnx(path: Path) -> Path:
    """A valid ONNX image network (3 -> 1 channel conv + sigmoid) that is no ISNet/U²-Net."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.full((1, 3, 3, 3), 0.1, np.float32), "conv.weight")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["input", "conv.weight"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("Sigmoid", ["c"], ["output"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 320, 320])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, 320, 320])],
        initializer=[weight],
    )
    onnx.save(helper.make_model(graph), str(path))
    return path


def test_import_refuses_a_network_it_cannot_build(tmp_path):
    source = _tiny_conv_onnx(tmp_path / "other-net.onnx")
    with pytest.raises(ModelError):
        model_cache.import_model(source, folder=tmp_path / "models")
    assert not (tmp_path / "models" / "custom" / "other-net.onnx").exists()


@pytest.mark.slow
def test_import_refuses_a_corrupted_fp16_file_and_load_refuses_a_damaged_import(
    tmp_path, isnet_fp16_path
):
    models = tmp_path / "models"
    damaged = tmp_path / isnet_fp16_path.name
    shutil.copyfile(isnet_fp16_path, damaged)
    _flip_bits(damaged)
    with pytest.raises(ModelError, match="damaged"):
        model_cache.import_model(damaged, folder=models)  # named like the registry's file
    nan_weights = tmp_path / "mine.onnx"
    data = bytearray(isnet_fp16_path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = b"\xff" * 4096  # fp16 NaNs
    nan_weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="non-finite|does not run"):
        model_cache.import_model(nan_weights, folder=models)
    good = tmp_path / "good.onnx"
    shutil.copyfile(isnet_fp16_path, good)
    installed = model_cache.import_model(good, name="mine", folder=models)
    _flip_bits(installed)
    with pytest.raises(ModelError, match="damaged"):
        ensure_model("mine", folder=models)


def test_the_watermark_image_is_decoded_under_the_size_guard(tmp_path, capsys):
    write_photo(tmp_path / "in" / "a.jpg")
    logo = tmp_path / "logo.png"
    Image.new("RGBA", (3000, 2000), (255, 255, 255, 128)).save(logo)  # 6 MP
    argv = [str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--no-refine", "-q"]
    argv += ["--watermark-image", str(logo), "--max-megapixels", "5"]
    assert run_batch(argv) == 1
    assert "safety limit" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("*.png"))


def test_the_resume_check_decodes_under_the_size_guard(tmp_path):
    from bgeraser_gui.core.batch_plan import BatchJob
    from bgeraser_gui.core.batch_resume import output_is_complete
    from bgeraser_gui.core.compose import ExportOptions

    source = write_photo(tmp_path / "in" / "p.jpg", size=(3000, 2000))
    out = tmp_path / "out" / "p_cutout.png"
    out.parent.mkdir()
    Image.new("RGBA", (3000, 2000)).save(out)
    job = BatchJob(str(source), str(out.parent), "p.jpg")
    assert output_is_complete(job, str(out), ExportOptions(), max_pixels=10_000_000)
    assert not output_is_complete(job, str(out), ExportOptions(), max_pixels=5_000_000)


def test_pillow_keeps_a_backstop_for_any_other_decode(tmp_path):
    import bgeraser_gui.core.image_io  # noqa: F401 - sets the process-wide guard

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)  # 10 gigapixels
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    assert Image.MAX_IMAGE_PIXELS is not None
    with pytest.raises(Image.DecompressionBombError):
        Image.open(bomb)
