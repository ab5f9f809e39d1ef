"""Memory of the full-resolution stages (issue 15 point 7: 100 MP must fit in 4 GB).

Peaks are measured with tracemalloc (numpy reports its allocations to it), in bytes per image
pixel, on photos big enough that a full-size temporary shows clearly: one float32 HxW copy is
4 bytes per pixel, one float32 HxWx3 copy 12. Before the fix the export composition peaked at
24 B/px (43 onto a background), the trimap at 22, the no-bites guard at 17, alpha -> uint8 at 8.
"""

from __future__ import annotations

import threading
import time
import tracemalloc

import numpy as np
import pytest

from bgeraser_gui.core.compose import ExportOptions, compose_image, to_alpha_u8, unit_to_u8
from bgeraser_gui.core.image_io import LoadedImage
from bgeraser_gui.core.matting_tiles import run_parallel
from bgeraser_gui.core.subject_guard import guard_alpha
from bgeraser_gui.core.trimap import TRIMAP_UNKNOWN, make_trimap


def _soft_disc(height: int, width: int) -> np.ndarray:
    """A soft-edged disc mask with a fuzzy (hair-like) side, float32 in [0, 1]."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    radius = np.hypot(yy - height / 2, xx - width / 2)
    softness = 3.0 + 25.0 * (xx > width * 0.6)
    return np.clip((min(height, width) * 0.3 - radius) / softness + 0.5, 0, 1).astype(np.float32)


def _peak_bytes_per_pixel(pixels: int, fn, *args, **kwargs):
    tracemalloc.start()
    try:
        result = fn(*args, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak / pixels


def test_alpha_to_uint8_makes_no_full_size_float_copies():
    alpha = _soft_disc(2400, 600)
    expected = np.clip(np.rint(alpha * 255.0), 0, 255).astype(np.uint8)
    result, per_pixel = _peak_bytes_per_pixel(alpha.size, to_alpha_u8, alpha)
    np.testing.assert_array_equal(result, expected)
    assert per_pixel < 2.5  # the uint8 result (1 B/px) plus one band of rows


def test_export_of_decontaminated_colours_makes_no_full_size_float_copies():
    height, width = 1600, 1000
    rng = np.random.default_rng(7)
    foreground = rng.random((height, width, 3), dtype=np.float32)
    alpha_u8 = to_alpha_u8(_soft_disc(height, width))
    image = LoadedImage(None, np.zeros((height, width, 3), np.uint8), None, None, None, 8, "PNG")
    result, per_pixel = _peak_bytes_per_pixel(
        height * width, compose_image, image, alpha_u8, ExportOptions(), foreground
    )
    rgba = np.asarray(result)
    expected = np.clip(np.rint(foreground * 255.0), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(rgba[..., :3], expected)
    np.testing.assert_array_equal(rgba[..., 3], alpha_u8)
    assert per_pixel < 10  # uint8 colours (3 B/px) + RGBA (4 B/px), no float copy (12 B/px)


def test_export_onto_a_background_makes_no_whole_image_float_copies():
    height, width = 1600, 1000
    foreground = np.random.default_rng(8).random((height, width, 3), dtype=np.float32)
    alpha_u8 = to_alpha_u8(_soft_disc(height, width))
    image = LoadedImage(None, np.zeros((height, width, 3), np.uint8), None, None, None, 8, "JPEG")
    options = ExportOptions(format="jpeg", background=(20, 40, 200))
    result, per_pixel = _peak_bytes_per_pixel(
        height * width, compose_image, image, alpha_u8, options, foreground
    )
    a = alpha_u8[..., None].astype(np.float32) / 255.0
    colours = np.clip(np.rint(foreground * 255.0), 0, 255).astype(np.uint8).astype(np.float32)
    flat = colours * a + np.array((20, 40, 200), np.float32) * (1.0 - a)
    expected = np.clip(np.rint(flat), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(result), expected)
    assert per_pixel < 15  # uint8 result (3 B/px) + one band of rows (16% of 1600); was 43


def test_unit_to_u8_equals_the_one_shot_formula_on_any_band_size():
    values = np.random.default_rng(3).uniform(-0.1, 1.1, (37, 11, 3)).astype(np.float32)
    expected = np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)
    for rows in (1, 5, 36, 37, 100):
        np.testing.assert_array_equal(unit_to_u8(values, rows_per_chunk=rows), expected)


def test_trimap_keeps_few_full_size_temporaries():
    mask = _soft_disc(2100, 1300)  # analysis factor 3: the block-wise paths run
    trimap, per_pixel = _peak_bytes_per_pixel(mask.size, make_trimap, mask)
    assert (trimap == TRIMAP_UNKNOWN).any()
    assert per_pixel < 15


def test_no_bites_guard_keeps_few_full_size_temporaries():
    mask = _soft_disc(1500, 1200)
    alpha = np.clip(mask * 1.1 - 0.05, 0, 1).astype(np.float32)
    guarded, per_pixel = _peak_bytes_per_pixel(mask.size, guard_alpha, alpha, mask, mask, None, 8)
    assert guarded.alpha.shape == mask.shape
    assert per_pixel < 11  # the result (4 B/px), the floor while it is made, a few bool masks


def test_onnx_runtime_returns_activation_memory_after_each_run(tmp_path):
    """Without the CPU arena the network's ~1.7 GB of activations are freed after each run
    instead of staying reserved through the full-resolution stages."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    from bgeraser_gui.backends.ort_backend import open_session

    tensor = helper.make_tensor_value_info
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "relu",
        [tensor("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [tensor("y", TensorProto.FLOAT, [1, 3, 8, 8])],
    )
    path = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    session = open_session(path, "cpu")
    options = session.get_session_options()
    assert not options.enable_cpu_mem_arena
    assert not options.enable_mem_pattern


@pytest.mark.parametrize("budget", [1000, 550])
def test_tiles_in_flight_stay_within_the_memory_budget(budget):
    """Matting tiles hold ~1 KB per band pixel: they run in parallel only within the budget
    (an item over the whole budget still runs, alone)."""
    costs = dict(enumerate([600, 500, 400, 300, 200, 100, 700, 50]))
    lock = threading.Lock()
    state = {"now": 0, "max": 0}
    done: list[int] = []

    def work(item: int) -> None:
        with lock:
            state["now"] += costs[item]
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.01)
        with lock:
            state["now"] -= costs[item]

    run_parallel(list(costs), work, 4, done.append, costs.get, budget)
    assert sorted(done) == sorted(costs)
    assert state["max"] <= max(budget, max(costs.values()))


def test_tile_budget_changes_the_schedule_not_the_alpha(monkeypatch):
    """Tiles solved one at a time (budget 0) or four at a time give the same alpha."""
    from bgeraser_gui.core import matting

    mask = _soft_disc(256, 256)
    rgb = np.dstack([mask * 180 + 40, np.tile(np.arange(256) // 2, (256, 1)), mask * 60 + 20])
    trimap = make_trimap(mask, band_px=6)
    monkeypatch.setattr(matting, "TILE_PX", 64)  # many tiles on a small photo
    monkeypatch.setattr(matting, "MAX_WORKERS", 4)
    results = []
    for budget in (0.0, float("inf")):
        monkeypatch.setattr(matting, "TILE_MEMORY_BUDGET", budget)
        results.append(matting.estimate_alpha(rgb.astype(np.uint8), trimap, prior=mask))
    np.testing.assert_array_equal(results[0], results[1])
    assert 0.0 < results[0][trimap == TRIMAP_UNKNOWN].mean() < 1.0
