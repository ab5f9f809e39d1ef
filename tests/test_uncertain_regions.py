"""Uncertain regions for Tab review: found where 0.1 < alpha < 0.9, largest first."""

from __future__ import annotations

import numpy as np

from bgeraser_gui.core.history import Rect
from bgeraser_gui.core.uncertain_regions import RegionCursor, find_uncertain_regions


def _mask_with_patches() -> np.ndarray:
    alpha = np.zeros((400, 600), np.float32)
    alpha[200:400, :] = 1.0  # clear foreground: not uncertain
    alpha[20:40, 30:50] = 0.5  # 400 px
    alpha[100:150, 400:460] = 0.3  # 3000 px
    alpha[300:330, 100:140] = 0.7  # 1200 px (inside the foreground)
    alpha[5, 590] = 0.5  # a lone pixel: below min_pixels
    return alpha


def test_regions_are_sorted_largest_first_with_tight_boxes():
    regions = find_uncertain_regions(_mask_with_patches(), max_extent=1000)
    assert [r.rect for r in regions] == [
        Rect(400, 100, 460, 150),
        Rect(100, 300, 140, 330),
        Rect(30, 20, 50, 40),
    ]
    assert [r.uncertain_pixels for r in regions] == [3000, 1200, 400]


def test_clear_masks_have_no_uncertain_regions():
    alpha = np.zeros((100, 100), np.float32)
    alpha[30:70, 30:70] = 1.0
    assert find_uncertain_regions(alpha) == []
    alpha[50, 50] = 0.95  # above the high threshold: still clearly in
    assert find_uncertain_regions(alpha) == []


def test_nearby_fragments_join_and_long_edges_are_split_into_cells():
    alpha = np.zeros((300, 300), np.float32)
    alpha[10:20, 10:20] = 0.5
    alpha[10:20, 22:32] = 0.5  # 2 px gap: joined by the dilation
    joined = find_uncertain_regions(alpha, dilate_px=2, max_extent=1000)
    assert [r.rect for r in joined] == [Rect(10, 10, 32, 20)]
    assert joined[0].uncertain_pixels == 200
    ring = np.zeros((300, 300), np.float32)
    ring[50:250, 50:250] = 0.5
    ring[53:247, 53:247] = 1.0  # a soft 3 px outline around a 200 px square
    cells = find_uncertain_regions(ring, max_extent=64)
    assert len(cells) > 4
    assert all(c.rect.width <= 64 and c.rect.height <= 64 for c in cells)
    assert sum(c.uncertain_pixels for c in cells) == int(((ring > 0.1) & (ring < 0.9)).sum())


def test_region_cursor_steps_and_wraps_both_ways():
    alpha = _mask_with_patches()
    cursor = RegionCursor()
    order = [r.rect for r in find_uncertain_regions(alpha)]
    assert cursor.step(alpha, +1).rect == order[0]
    assert cursor.step(alpha, +1).rect == order[1]
    assert cursor.step(alpha, -1).rect == order[0]
    assert cursor.step(alpha, -1).rect == order[-1]
    cursor.invalidate()
    assert cursor.step(alpha, +1).rect == order[0]
    assert RegionCursor().step(np.zeros((10, 10), np.float32), +1) is None
