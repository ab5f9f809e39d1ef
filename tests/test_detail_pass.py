"""Detail pass (backends/detail_pass.py): a network-size crop of a large photo shows thin parts
the downscaled first look left undecided; only undecided pixels change."""

from __future__ import annotations

import numpy as np

from bgeraser_gui.backends.detail_pass import HIGH, LOW, detail_pass, detail_tiles, tile_side
from bgeraser_gui.backends.model_io import InputSpec
from bgeraser_gui.backends.segmenter import IMPROVED, QualityOptions, Segmenter

SIDE = 32  # the stand-in network's input size
DETAIL = IMPROVED.replace(detail_pass=True)


class Brightness(Segmenter):
    """Network stand-in: the subject is what is bright, as the network sees it (downscaled to
    its input size, so a 1 px line in a 3x larger photo comes out grey). Counts its calls."""

    def __init__(self, options: QualityOptions) -> None:
        super().__init__(
            "bright", "cpu", InputSpec(SIDE, (0, 0, 0), (1, 1, 1), "identity"), options
        )
        self.calls = 0

    def _run(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        return batch.mean(axis=1)


def _photo(side: int) -> np.ndarray:
    """A bright block (the body) and a 1 px bright line (a spoke) on black."""
    rgb = np.zeros((side, side, 3), np.uint8)
    rgb[8:20, 8:20] = 255
    rgb[:, side * 2 // 3] = 255
    return rgb


def test_a_large_photos_thin_line_is_drawn_by_the_detail_pass():
    rgb = _photo(3 * SIDE)
    line = rgb[:, :, 0][:, 2 * SIDE] > 0  # column 64
    plain = Brightness(IMPROVED.replace(detail_pass=False))
    first = plain.predict(rgb)
    assert first[line.nonzero()[0], 2 * SIDE].max() < HIGH  # the first look leaves it grey
    segmenter = Brightness(DETAIL)
    mask = segmenter.predict(rgb)
    side = tile_side(first.shape, SIDE)
    assert side == 3 * SIDE // 2  # half the photo's long side: twice the first look's detail
    tiles = detail_tiles(first, side)
    assert tiles and segmenter.calls == plain.calls + len(tiles)
    full = side // 4  # the tile's own value from two edge margins in (EDGE_MARGIN = 1/8)
    y, x = next((y, x) for y, x in tiles if x + full <= 2 * SIDE < x + side - full)
    inner = slice(y + full if y else 0, y + side - full)
    assert np.all(mask[inner, 2 * SIDE] >= HIGH)  # opaque where the crop saw it


def test_sure_pixels_and_small_photos_keep_the_first_look():
    rgb = _photo(3 * SIDE)
    first = Brightness(IMPROVED.replace(detail_pass=False)).predict(rgb)
    sure = (first <= LOW) | (first >= HIGH)
    mask = detail_pass(rgb, first, lambda crop: np.full(crop.shape[:2], 0.5, np.float32), SIDE)
    np.testing.assert_array_equal(mask[sure], first[sure])
    small = _photo(SIDE + SIDE // 4)  # below MIN_ZOOM x the network size: no crop shows more
    assert tile_side(small.shape[:2], SIDE) is None
    segmenter = Brightness(DETAIL)
    segmenter.predict(small)
    assert segmenter.calls == 2  # the flip-averaged first look only
