"""Detail pass: a second look, at a higher resolution, where the model hesitates on a large photo.

The network sees every photo at its input size (1024 px for ISNet), so on a 6 MP photo it sees
a third of the pixels per side: thin parts such as a bike's brake rotor come out as a grey 0.2 to
0.4, and the gaps between its arms as subject. Run again on a network-size crop of the photo, it
sees the same parts at full resolution and draws them (benchmarks/no_bites.py's bike: the rotor
rim and arms opaque, the gaps between them background).

The crops go where the first mask is most undecided: up to `MAX_TILES` square tiles, each half
the photo's long side (never below the network's size), so the network sees them at twice the
first look's resolution while keeping context around the part (on the bike, of crops 768, 1024
and 1536 px around the rotor the 1536 px one drew its rim best: median 0.82 against 0.64 and
0.71; the model needs the surroundings to tell subject from background), picked greedily by
how many pixels of the mask lie between `LOW` and `HIGH`. Inside a tile, those undecided pixels take the tile's value; sure pixels keep the first
mask's (a crop lacks the whole photo's context: it must not overturn what the model is sure
of), and so does a margin along the tile's inner edges, where the crop cuts objects off (the
tile's weight then rises over a second margin, so no seam shows).
Photos that are not at least `MIN_ZOOM` times the network's size on their long side get no
detail pass: a crop would not show the network more detail than the whole photo did. None of
the shared eval sets has such photos (all are under 900 px), so their figures do not change.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

LOW, HIGH = 0.1, 0.9  # the first mask's undecided range
MIN_ZOOM = 1.5  # photo long side / network size below which no detail pass runs
TILE_FRACTION = 0.5  # tile side / photo long side (at least the network size)
MAX_TILES = 1  # more network passes (each costs what one pass of the first look costs)
MIN_UNDECIDED = 0.02  # a tile with a smaller undecided share is not worth a pass
EDGE_MARGIN = 1 / 8  # of the tile side: the crop's inner edges keep the first mask

OnePass = Callable[[np.ndarray], np.ndarray]  # HxWx3 crop -> its HxW mask (one network pass)


def undecided(mask: np.ndarray) -> np.ndarray:
    return (mask > LOW) & (mask < HIGH)


def _block_counts(mask: np.ndarray, block: int) -> np.ndarray:
    """Undecided pixels per `block` x `block` cell (int64, ceil-sized), band by band: no
    full-size temporary beyond one band of rows."""
    h, w = mask.shape
    rows, cols = -(-h // block), -(-w // block)
    out = np.zeros((rows, cols), np.int64)
    for r in range(rows):
        band = undecided(mask[r * block : (r + 1) * block])
        per_column = np.add.reduceat(band.sum(axis=0, dtype=np.int64), np.arange(0, w, block))
        out[r] = per_column
    return out


def tile_side(shape: tuple[int, int], network_side: int) -> int | None:
    """The detail pass's tile side for a photo of `shape`; None when it gets no detail pass."""
    long_side = max(shape)
    side = max(network_side, int(np.ceil(TILE_FRACTION * long_side)))
    if long_side < MIN_ZOOM * network_side or min(shape) < side:
        return None
    return side


def detail_tiles(mask: np.ndarray, side: int, max_tiles: int = MAX_TILES) -> list[tuple[int, int]]:
    """Top-left corners (y, x) of up to `max_tiles` `side`-px tiles with the most undecided
    pixels in their middles (which do not overlap), on a grid of quarter-tile steps."""
    h, w = mask.shape
    block = max(1, side // 64)
    table = np.zeros((-(-h // block) + 1, -(-w // block) + 1), np.int64)
    table[1:, 1:] = np.cumsum(np.cumsum(_block_counts(mask, block), axis=0), axis=1)
    # counted over the tile's middle, where its weight is above one half (_tile_weight)
    inset = int(round(1.5 * EDGE_MARGIN * side))
    middle = side - 2 * inset
    step = side // 4
    scored = []
    for y in sorted({*range(0, h - side + 1, step), h - side}):
        for x in sorted({*range(0, w - side + 1, step), w - side}):
            y0, x0 = (y + inset) // block, (x + inset) // block  # to the nearest block
            y1, x1 = -(-(y + side - inset) // block), -(-(x + side - inset) // block)
            n = table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
            scored.append((int(n), y, x))
    scored.sort(reverse=True)
    picked: list[tuple[int, int]] = []
    for n, y, x in scored:
        if len(picked) == max_tiles or n < MIN_UNDECIDED * middle * middle:
            break
        if all(abs(y - py) >= middle or abs(x - px) >= middle for py, px in picked):
            picked.append((y, x))
    return picked


def _tile_weight(side: int, on_border: tuple[bool, bool, bool, bool]) -> np.ndarray:
    """How much of the tile's pass to take per pixel: 0 within EDGE_MARGIN of the crop's inner
    edges (the photo's own border is no cut), rising to 1 over the next EDGE_MARGIN, so no
    seam shows where the tile ends."""
    margin = max(1, round(EDGE_MARGIN * side))
    ramp = np.clip(np.arange(side, dtype=np.float32) / margin - 1.0, 0.0, 1.0)
    top, bottom, left, right = on_border
    rows = np.minimum(np.ones(side, np.float32) if top else ramp, 1 if bottom else ramp[::-1])
    cols = np.minimum(np.ones(side, np.float32) if left else ramp, 1 if right else ramp[::-1])
    return np.minimum(rows[:, None], cols[None, :])


def detail_pass(
    rgb: np.ndarray,
    mask: np.ndarray,
    one_pass: OnePass,
    network_side: int,
    check: Callable[[], None] = lambda: None,
) -> np.ndarray:
    """`mask` with its undecided pixels in the most undecided tiles taken from a network pass
    on that tile (a new array; `mask` itself when no tile qualifies). `network_side`: the
    network's input size."""
    side = tile_side(mask.shape, network_side)
    tiles = [] if side is None else detail_tiles(mask, side)
    if not tiles:
        return mask
    out = mask.copy()
    h, w = mask.shape
    for y, x in tiles:
        check()
        tile = one_pass(np.ascontiguousarray(rgb[y : y + side, x : x + side]))
        weight = _tile_weight(side, (y == 0, y + side == h, x == 0, x + side == w))
        view = out[y : y + side, x : x + side]
        take = undecided(mask[y : y + side, x : x + side]) & (weight > 0)
        view[take] += weight[take] * (tile[take] - view[take])
    return out
