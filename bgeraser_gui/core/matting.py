"""Edge refinement: colour evidence -> trimap -> alpha matting on the band -> foreground colours.

Soft areas of the model's mask are first settled by the colours of the pixels it is sure of
(core/colour_evidence.py), so the trimap gets subject and background samples where the model
hesitated over a large area instead of leaving the solver to guess.

The common recipe builds the matting Laplacian of the whole image (~400 bytes per pixel,
13 GB at 24 MP). We solve only the unknown band, tile by tile with a context margin, so time
and memory follow the band, not the image. Closed-form matting ("cf", default) assembles the
band's own linear system; "knn", "lkm" and "rw" run pymatting on each tile crop. When the
incomplete-Cholesky preconditioner fails we fall back to Jacobi and say so in `notes`.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from bgeraser_gui.core.colour_evidence import colour_posterior
from bgeraser_gui.core.foreground import estimate_foreground  # noqa: F401 - public API here
from bgeraser_gui.core.kernel_cache import KernelWarmth, ensure_numba_cache_dir, pymatting_part
from bgeraser_gui.core.matting_kernels import ichol
from bgeraser_gui.core.matting_tiles import (
    Tile,
    band_system,
    colour_classes,
    run_parallel,
    tiles_over,
    worker_count,
)
from bgeraser_gui.core.memory import release_free_memory
from bgeraser_gui.core.progress import CancelToken, ProgressFn, no_progress, sub_progress
from bgeraser_gui.core.refine_types import MattingResult, RefineOptions
from bgeraser_gui.core.trimap import (
    TRIMAP_FG,
    TRIMAP_UNKNOWN,
    apply_touchups_to_mask,
    make_trimap,
)

_log = logging.getLogger(__name__)

METHODS = ("cf", "knn", "lkm", "rw")
TILE_PX = 1024  # tile core; one tile's system and ichol factor stay well under 1 GB
MARGIN_PX = 16  # context around each tile core (tiles solved later also see their neighbours)
WIDE_BAND_PX = 48  # unknown regions thicker than this are first solved at half resolution
# Pull towards the model's mask where the image says little (flat areas, blobs with no known
# neighbour); without a mask only a tiny regulariser keeps isolated regions well-posed.
PRIOR_WEIGHT = 1e-3
NO_PRIOR_WEIGHT = 1e-8
# Relative residual at which CG stops: the mean alpha error is then ~1e-3, far inside the
# issue's tolerance (2% of the band), and half the iterations of 1e-6 are saved. Without the
# mask prior the system is nearly singular in ambiguous areas and stopping early drifts
# (up to 2% of the band on GT13), so that case is solved tighter.
CG_RTOL = 1e-4
CG_RTOL_UNREGULARISED = 1e-5
MAX_WORKERS = worker_count()
# A tile's system, preconditioner and solver hold ~950 bytes per unknown pixel at their peak
# (measured: +950 MB for a 1056 px crop that is all band). Tiles run in parallel only while
# their sum stays within the budget, so a wide band at 100 MP does not need 4 GB on 4 cores.
TILE_BYTES_PER_UNKNOWN = 1000
TILE_MEMORY_BUDGET = 1.2e9
CG_MAXITER = 5000
# Thresholded incomplete Cholesky (pymatting's default drops entries below 1e-4: a near-exact
# factor whose construction dominated the run time). 3e-3 builds a factor with ~40% of the
# entries in about a third of the time; CG then needs ~8 instead of ~3 iterations. Dropping
# more breaks positive definiteness at small shifts on many tiles, so the shifts start at 1e-2
# (the matrix diagonal is ~5): failed attempts cost more than the slightly weaker factor.
ICHOL_DISCARD = 3e-3
ICHOL_SHIFTS = (1e-2, 0.1, 1.0, 10.0, 100.0)
ICHOL_NNZ_PER_ROW = 250


def _check_inputs(rgb: np.ndarray, mask: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
    if mask.shape != rgb.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image {rgb.shape[:2]}")


def _cg(matrix, rhs, x0, preconditioner, cancel: CancelToken | None, rtol: float = CG_RTOL):
    """pymatting's conjugate gradient, polled for cancel; returns (x, converged)."""
    cg = pymatting_part("solver.cg").cg
    latest = {}

    def on_iteration(A, x, b, norm_b, r, norm_r):
        latest["x"] = x
        if cancel is not None:
            cancel.check()

    try:
        x = cg(matrix, rhs, x0=x0, rtol=rtol, maxiter=CG_MAXITER, M=preconditioner,
               callback=on_iteration)  # fmt: skip
        return x, True
    except ValueError:  # did not converge within maxiter: keep the best iterate
        return latest.get("x", x0), False


def _solve_cf_tile(
    image, trimap, prior, cancel, notes, fixed=None, fixed_alpha=None, weight=NO_PRIOR_WEIGHT
):
    """Closed-form alpha of the unknown pixels of one crop (float64 image in [0, 1]).

    fixed: unknown pixels already solved by a neighbouring tile; their alpha (fixed_alpha) is
    used as a boundary condition, which removes most of the seam a plain overlap would leave.
    """
    jacobi = pymatting_part("preconditioner.jacobi").jacobi
    unknown = trimap == TRIMAP_UNKNOWN
    known_alpha = trimap.astype(np.float64) / 255.0
    if fixed is not None and fixed.any():
        known_alpha[fixed] = fixed_alpha[fixed]
        unknown = unknown & ~fixed
    if not unknown.any():
        return known_alpha
    matrix, rhs, ys, xs = band_system(image, unknown, known_alpha, diagonal=weight)
    n = rhs.shape[0]
    start = np.clip(prior[ys, xs].astype(np.float64), 0.0, 1.0)
    rhs += weight * start
    if cancel is not None:
        cancel.check()
    try:
        preconditioner = ichol(
            matrix,
            discard_threshold=ICHOL_DISCARD,
            shifts=list(ICHOL_SHIFTS),
            max_nnz=max(1_000_000, ICHOL_NNZ_PER_ROW * n),
        )
    except ValueError as error:
        _note(notes, f"incomplete-Cholesky preconditioner failed ({error}); fell back to Jacobi")
        preconditioner = jacobi(matrix)
    rtol = CG_RTOL if weight >= PRIOR_WEIGHT else CG_RTOL_UNREGULARISED
    x, converged = _cg(matrix, rhs, start, preconditioner, cancel, rtol)
    if not converged:
        _note(notes, "closed-form solver hit its iteration limit; kept its best estimate")
    if not np.all(np.isfinite(x)):
        _note(notes, "closed-form solver diverged on a tile; kept the mask there")
        x = start
    result = known_alpha.copy()
    result[ys, xs] = np.clip(x, 0.0, 1.0)
    return result


def _solve_pymatting_tile(image, trimap, prior, method, cancel, notes) -> np.ndarray:
    """knn / lkm / rw on one crop through pymatting (whole-crop Laplacian, bounded by the tile)."""
    ensure_numba_cache_dir()  # the whole package compiles its kernels at import
    import pymatting

    _quiet_pymatting_prints()

    if not ((trimap == 0).any() and (trimap == TRIMAP_FG).any()):
        return _solve_cf_tile(image, trimap, prior, cancel, notes)
    estimate = {
        "knn": pymatting.estimate_alpha_knn,
        "lkm": pymatting.estimate_alpha_lkm,
        "rw": pymatting.estimate_alpha_rw,
    }[method]

    def on_iteration(*_args):
        if cancel is not None:
            cancel.check()

    cg_kwargs = {"callback": on_iteration, "maxiter": CG_MAXITER}
    try:
        return estimate(image, trimap.astype(np.float64) / 255.0, cg_kwargs=cg_kwargs)
    except ValueError as error:
        _note(notes, f"{method} matting failed on a tile ({error}); used closed-form there")
        return _solve_cf_tile(image, trimap, prior, cancel, notes)


def _quiet_pymatting_prints() -> None:
    """pymatting's ichol prints retry warnings to stdout (into the CLI's output and progress
    bar); route them to our log instead. A module-level `print` shadows the builtin there."""
    ichol_module = pymatting_part("preconditioner.ichol")
    if getattr(ichol_module, "print", None) is not _log_print:
        ichol_module.print = _log_print


def _log_print(*args, **kwargs) -> None:
    _log.debug("pymatting: %s", " ".join(str(a) for a in args))


def _note(notes: list[str] | None, message: str) -> None:
    if notes is not None and message not in notes:
        notes.append(message)


def _unknown_thickness(unknown: np.ndarray) -> float:
    """Largest distance (px) from an unknown pixel to the nearest known one."""
    src = unknown.view(np.uint8) * np.uint8(255)
    return float(cv2.distanceTransform(src, cv2.DIST_L2, 3).max())


def _coarse_guess(rgb, trimap, prior, method, progress, cancel, notes) -> np.ndarray:
    """Alpha solved at half resolution and upsampled: the fine solve's start and prior.

    It seeds the conjugate gradient and replaces the mask as the target of the weak prior, so
    a wide band behaves as at half the size (24 MP results then match the 6 MP ones much more
    closely: mean difference 1.4% instead of 4.1% of the band on the bike). It never fixes
    pixels, because structures thinner than 2 px vanish at half resolution.
    """
    h, w = trimap.shape
    small_rgb = cv2.resize(rgb, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    small_trimap = cv2.resize(trimap, (w // 2, h // 2), interpolation=cv2.INTER_NEAREST)
    small_prior = cv2.resize(prior, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    coarse = estimate_alpha(small_rgb, small_trimap, method, progress, cancel, small_prior, notes)
    coarse = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    np.copyto(coarse, prior, where=trimap != TRIMAP_UNKNOWN)  # in place: no full-size copies
    return coarse


def estimate_alpha(
    rgb: np.ndarray,
    trimap: np.ndarray,
    method: str = "cf",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    prior: np.ndarray | None = None,
    notes: list[str] | None = None,
) -> np.ndarray:
    """float32 alpha: 0/1 on known trimap pixels, matted on the unknown band only.

    prior: optional float HxW guess (the model's mask) used as the solver's start and as a
    very weak regulariser; notes: list that receives messages about fallbacks.
    """
    if method not in METHODS:
        raise ValueError(f"unknown matting method {method!r}; choose one of {METHODS}")
    progress = progress or no_progress
    unknown = trimap == TRIMAP_UNKNOWN
    alpha = (trimap >= TRIMAP_FG).astype(np.float32)
    if not unknown.any():
        progress(1.0, "Refining edges")
        return alpha
    weight = NO_PRIOR_WEIGHT if prior is None else PRIOR_WEIGHT
    if prior is None:
        prior = np.where(unknown, 0.5, alpha).astype(np.float32)
    if min(trimap.shape) >= 64 and _unknown_thickness(unknown) > WIDE_BAND_PX:
        prior = _coarse_guess(
            rgb, trimap, prior, method, sub_progress(progress, 0.0, 0.3), cancel, notes
        )
        progress = sub_progress(progress, 0.3, 1.0)
    tiles = list(tiles_over(unknown, TILE_PX, MARGIN_PX))
    solved = np.zeros(unknown.shape, bool)
    total = float(np.count_nonzero(unknown))
    done = [0.0]

    def _tile_bytes(tile: Tile) -> float:  # what solving it holds at its peak
        return TILE_BYTES_PER_UNKNOWN * np.count_nonzero(unknown[tile.crop])

    def solve(tile: Tile) -> None:
        if cancel is not None:
            cancel.check()
        _solve_tile(rgb, trimap, prior, alpha, solved, tile, method, cancel, notes, weight)

    def finished(tile: Tile) -> None:  # runs on the calling thread
        done[0] += np.count_nonzero(unknown[tile.core])
        progress(done[0] / total, "Refining edges")

    progress(0.0, "Refining edges")
    for group in colour_classes(tiles, TILE_PX):
        # biggest tiles first, so no thread is left with a large one at the end of a class
        group.sort(key=lambda tile: -np.count_nonzero(unknown[tile.core]))
        run_parallel(group, solve, MAX_WORKERS, finished, _tile_bytes, TILE_MEMORY_BUDGET)
    release_free_memory()  # the tiles' systems, freed in the worker threads' arenas
    progress(1.0, "Refining edges")
    return alpha


def _solve_tile(rgb, trimap, prior, alpha, solved, tile: Tile, method, cancel, notes, weight):
    crop = tile.crop
    image = rgb[crop].astype(np.float64) * (1.0 / 255.0)
    tile_trimap = trimap[crop]
    tile_prior = prior[crop]
    if method == "cf":
        fixed = solved[crop]
        fixed_alpha = alpha[crop].astype(np.float64)
        result = _solve_cf_tile(
            image, tile_trimap, tile_prior, cancel, notes, fixed, fixed_alpha, weight
        )
    else:
        result = _solve_pymatting_tile(image, tile_trimap, tile_prior, method, cancel, notes)
    target = trimap[tile.core] == TRIMAP_UNKNOWN
    alpha[tile.core][target] = result[tile.core_in_crop][target]
    solved[tile.core] |= target


def refine(
    rgb: np.ndarray,
    mask: np.ndarray,
    touchups: np.ndarray | None = None,
    options: RefineOptions | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> MattingResult:
    """Refine a soft mask into an alpha matte (+ decontaminated foreground). Inputs are not modified."""
    options = options or RefineOptions()
    progress = progress or no_progress
    if options.enabled:
        progress = _KERNELS.start(progress)  # the first call in a process compiles them
    return _refine(rgb, mask, touchups, options, progress, cancel)


def _refine(rgb, mask, touchups, options: RefineOptions, progress: ProgressFn, cancel):
    _check_inputs(rgb, mask)
    notes: list[str] = []
    progress(0.0, "Building trimap")
    if not options.enabled:
        trimap = make_trimap(mask, options.band_px, touchups, adaptive=options.adaptive)
        alpha = np.clip(mask, 0.0, 1.0).astype(np.float32)
        alpha[trimap == TRIMAP_FG] = 1.0
        alpha[trimap == 0] = 0.0
        progress(1.0, "Done")
        return MattingResult(alpha, None, trimap, ["edge refinement disabled"])
    from bgeraser_gui.core.subject_guard import guard_alpha  # here: the imports above are shared
    from bgeraser_gui.core.trimap import default_band_px

    model = _unit_range(mask)
    prior = model
    if options.colour_evidence:
        # Painted keep / remove strokes are sure samples too: they teach the colour model.
        prior = colour_posterior(rgb, apply_touchups_to_mask(prior, touchups), cancel=cancel)
    trimap = make_trimap(prior, options.band_px, touchups, adaptive=options.adaptive)
    if cancel is not None:
        cancel.check()
    end_alpha = 0.8 if options.decontaminate else 1.0
    alpha = estimate_alpha(
        rgb, trimap, options.method, sub_progress(progress, 0.05, end_alpha), cancel, prior, notes
    )
    edge_px = options.band_px if options.band_px is not None else default_band_px(*mask.shape)
    guarded = guard_alpha(alpha, model, prior, touchups, edge_px)
    alpha = guarded.alpha
    del prior, model
    foreground = None
    if options.decontaminate:
        foreground = estimate_foreground(
            rgb, alpha, trimap, sub_progress(progress, end_alpha, 1.0), cancel
        )
    progress(1.0, "Done")
    return MattingResult(alpha, foreground, trimap, notes, guarded.disputed)


def _unit_range(mask: np.ndarray) -> np.ndarray:
    """The mask as float32 in [0, 1]; the mask itself (no 400 MB copy at 100 MP) when it is."""
    if mask.dtype == np.float32 and mask.size and mask.min() >= 0.0 and mask.max() <= 1.0:
        return mask
    return np.clip(mask, 0.0, 1.0).astype(np.float32)


def warm_up() -> None:
    """Compile (or load from cache) the numba kernels; call in the background."""
    _KERNELS.ensure(no_progress)


def _compile_kernels() -> None:
    """A refinement of a tiny image runs (so compiles) every kernel a real one runs."""
    yy, xx = np.mgrid[0:48, 0:48]
    mask = (((yy - 24) ** 2 + (xx - 24) ** 2) < 200).astype(np.float32)
    mask = cv2.GaussianBlur(mask, (7, 7), 2.0)
    rgb = np.dstack([(mask * 200 + 30), (xx * 4), (yy * 4)]).astype(np.uint8)
    _refine(rgb, mask, None, RefineOptions(band_px=3), no_progress, None)


_KERNELS = KernelWarmth(_compile_kernels)
