"""Quality steps on synthetic masks: specks go, rings and spokes stay, edges snap to the photo."""

from __future__ import annotations

import cv2
import numpy as np

from bgeraser_gui.backends.model_io import (
    InputSpec,
    mask_from_output,
    network_input,
    resize_mask,
    to_unit_range,
)
from bgeraser_gui.backends.postprocess import (
    expand_box,
    guided_filter,
    remove_small_regions,
    snap_edges,
    subject_box,
)


def _wheel(size: int = 200) -> np.ndarray:
    """A ring with four 2-px spokes and a hub: the hole inside the ring is large."""
    mask = np.zeros((size, size), np.uint8)
    centre = (size // 2, size // 2)
    cv2.circle(mask, centre, 80, 1, thickness=6)
    cv2.circle(mask, centre, 10, 1, thickness=-1)
    for angle in (0, 45, 90, 135):
        dx = int(80 * np.cos(np.radians(angle)))
        dy = int(80 * np.sin(np.radians(angle)))
        cv2.line(mask, (centre[0] - dx, centre[1] - dy), (centre[0] + dx, centre[1] + dy), 1, 2)
    return mask.astype(np.float32)


def test_specks_are_removed_but_ring_and_spokes_stay():
    wheel = _wheel()
    noisy = wheel.copy()
    noisy[5:8, 5:8] = 0.9  # a 9-pixel speck far from the subject
    noisy[150, 20] = 0.7
    cleaned = remove_small_regions(noisy)
    assert cleaned[5:8, 5:8].max() == 0.0 and cleaned[150, 20] == 0.0
    np.testing.assert_array_equal(cleaned >= 0.5, wheel >= 0.5)  # spokes and ring hole intact


def test_pinholes_are_filled_but_border_gaps_are_not():
    mask = np.zeros((100, 100), np.float32)
    mask[20:80, 0:80] = 1.0
    mask[50, 50] = 0.0  # pinhole inside
    mask[50, 0:3] = 0.0  # notch touching the image border
    cleaned = remove_small_regions(mask)
    assert cleaned[50, 50] == 1.0
    assert cleaned[50, 0:3].max() == 0.0


def test_subject_box_and_margin():
    mask = np.zeros((50, 80), np.float32)
    mask[10:20, 30:40] = 1.0
    assert subject_box(mask) == (30, 10, 40, 20)
    assert expand_box((30, 10, 40, 20), 80, 50, 0.5) == (25, 5, 45, 25)
    assert subject_box(np.zeros((5, 5), np.float32)) is None


def test_guided_filter_with_flat_guide_is_a_box_blur():
    rng = np.random.default_rng(0)
    source = rng.random((40, 40), dtype=np.float32)
    flat = np.full((40, 40), 0.5, np.float32)
    out = guided_filter(flat, source, radius=2, eps=1e-3)
    box = cv2.boxFilter(source, -1, (5, 5), borderType=cv2.BORDER_REFLECT)
    expected = cv2.boxFilter(box, -1, (5, 5), borderType=cv2.BORDER_REFLECT)
    np.testing.assert_allclose(out, np.clip(expected, 0, 1), atol=1e-5)


def test_edge_snapping_concentrates_a_blurry_mask_edge_on_the_photo_edge():
    rgb = np.zeros((200, 200, 3), np.uint8)
    rgb[:, 100:] = 255  # photo edge between x = 99 and x = 100
    mask = np.zeros((200, 200), np.float32)
    mask[:] = np.clip((np.arange(200) - 92) / 20.0, 0, 1)  # a 20 px ramp across it
    snapped = snap_edges(rgb, mask)
    step_before = mask[100, 100] - mask[100, 99]
    step_after = snapped[100, 100] - snapped[100, 99]
    assert abs(step_before - 0.05) < 1e-6
    assert step_after > 0.2  # most of the transition now sits on the photo edge
    assert snapped[100, 99] < mask[100, 99] and snapped[100, 101] > mask[100, 101]
    np.testing.assert_allclose(snapped[:, :60], 0.0)  # sure background stays background
    np.testing.assert_allclose(snapped[:, 150:], 1.0)  # sure foreground stays foreground


def test_network_input_follows_rembg_normalisation():
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 200, (30, 50, 3), dtype=np.uint8)
    spec = InputSpec(size=32, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    x = network_input(rgb, spec)
    from PIL import Image

    small = np.asarray(Image.fromarray(rgb).resize((32, 32), Image.Resampling.LANCZOS))
    scaled = small / max(np.max(small), 1e-6)  # rembg divides by the image maximum, not 255
    expected = (scaled - np.array(spec.mean)) / np.array(spec.std)
    assert x.shape == (1, 3, 32, 32) and x.dtype == np.float32
    np.testing.assert_allclose(x[0].transpose(1, 2, 0), expected, atol=1e-5)


def test_output_min_max_and_resize_back():
    pred = np.linspace(0.2, 0.7, 64, dtype=np.float32).reshape(8, 8)
    unit = to_unit_range(pred, "minmax")
    assert unit.min() == 0.0 and unit.max() == 1.0
    exact = mask_from_output(pred, 16, 12, "minmax", rembg_exact=True)
    smooth = mask_from_output(pred, 16, 12, "minmax", rembg_exact=False)
    assert exact.shape == smooth.shape == (12, 16)
    assert np.all(np.round(exact * 255) == exact * 255)  # 8-bit levels, like rembg
    assert np.abs(exact - smooth).max() < 0.02
    assert resize_mask(unit, 8, 8) is not None and resize_mask(unit, 8, 8).shape == (8, 8)
