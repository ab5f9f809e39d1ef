"""Binary graph cut of one image window: a data term in logits, contrast-sensitive smoothness.

    E(L) = sum_p D_p(L_p) + SMOOTHNESS * sum_(p,q) w_pq [L_p != L_q]
    w_pq = exp(-|I_p - I_q|^2 / (2 <|I_p - I_q|^2>))      (4-connected)

`D_p` comes from a logit `u_p` (positive = subject): labelling p background costs max(u_p, 0),
subject costs max(-u_p, 0). Seeds are hard labels (infinite cost of the other label). Solved
exactly by PyMaxflow (Boykov-Kolmogorov), so the same input always gives the same labels.
"""

from __future__ import annotations

import cv2
import maxflow
import numpy as np

HARD = 1e9  # capacity of a seed's terminal edge: never cut
SMOOTHNESS = 1.2  # weight of a full-contrast-free neighbour pair, in logits
# Bigger windows are solved on a shrunk copy (labels scaled back): bounds a click's time
MAX_CUT_PIXELS = 160_000


def edge_weights(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contrast-sensitive weights (float32) to the right (HxW-1) and below (H-1xW)."""
    img = rgb.astype(np.float32)
    dx = np.square(img[:, 1:] - img[:, :-1]).sum(axis=2)
    dy = np.square(img[1:] - img[:-1]).sum(axis=2)
    mean = (dx.sum() + dy.sum()) / max(dx.size + dy.size, 1)
    beta = 1.0 / (2.0 * max(float(mean), 1e-6))
    return np.exp(-beta * dx).astype(np.float32), np.exp(-beta * dy).astype(np.float32)


def cut_bounded(
    unary: np.ndarray,
    rgb: np.ndarray,
    fg_seeds: np.ndarray,
    bg_seeds: np.ndarray,
    max_pixels: int = MAX_CUT_PIXELS,
) -> np.ndarray:
    """`cut`, on a copy shrunk to at most `max_pixels` when the window is bigger."""
    h, w = unary.shape
    if h * w <= max_pixels:
        return cut(unary, rgb, fg_seeds, bg_seeds)
    f = np.sqrt(max_pixels / (h * w))
    size = (max(2, int(w * f)), max(2, int(h * f)))
    area = cv2.INTER_AREA
    small_fg = cv2.resize(fg_seeds.astype(np.float32), size, interpolation=area) > 0
    small_bg = cv2.resize(bg_seeds.astype(np.float32), size, interpolation=area) > 0
    labels = cut(
        cv2.resize(unary, size, interpolation=area),
        cv2.resize(rgb, size, interpolation=area),
        small_fg & ~small_bg,
        small_bg & ~small_fg,
    )
    full = cv2.resize(labels.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) >= 0.5
    full[fg_seeds] = True
    full[bg_seeds] = False
    return full


def cut(
    unary: np.ndarray,
    rgb: np.ndarray,
    fg_seeds: np.ndarray | None = None,
    bg_seeds: np.ndarray | None = None,
    smoothness: float = SMOOTHNESS,
) -> np.ndarray:
    """Minimum-energy labelling (bool HxW, True = subject) of a window.

    `unary`: float32 HxW logits; `rgb`: the window's colours (HxWx3); seeds: bool HxW.
    """
    h, w = unary.shape
    wx, wy = edge_weights(rgb)
    g = maxflow.Graph[float]()
    nodes = g.add_grid_nodes((h, w))
    right = np.zeros((h, w), np.float64)
    right[:, :-1] = smoothness * wx
    down = np.zeros((h, w), np.float64)
    down[:-1, :] = smoothness * wy
    g.add_grid_edges(nodes, weights=right, structure=_RIGHT, symmetric=True)
    g.add_grid_edges(nodes, weights=down, structure=_DOWN, symmetric=True)
    u = unary.astype(np.float64)
    to_bg = np.maximum(u, 0.0)  # paid when labelled background (cut from the source)
    to_fg = np.maximum(-u, 0.0)  # paid when labelled subject (cut from the sink)
    if fg_seeds is not None:
        to_bg[fg_seeds] = HARD
        to_fg[fg_seeds] = 0.0
    if bg_seeds is not None:
        to_fg[bg_seeds] = HARD
        to_bg[bg_seeds] = 0.0
    g.add_grid_tedges(nodes, to_bg, to_fg)
    g.maxflow()
    return ~g.get_grid_segments(nodes)


_RIGHT = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0]])
_DOWN = np.array([[0, 0, 0], [0, 0, 0], [0, 1, 0]])
