"""Which model mask refinement starts from: the flip-averaged one, or its first pass alone.

Flip averaging (the default `best` quality) makes the model's mask better on its own, but where
the two passes disagree the average is a hesitant grey over a large area; matting then settles
that area from colours alone and the no-bites guard (core/subject_guard.py) has to put the
model's value back: the refinement disputes much of the subject. The first pass alone is often
firm there. So, per photo, from a run-time signal and without a second network call (the
segmenter keeps the first pass's output, `Segmenter.predict_passes`):

    refine the averaged mask; when it disputes more than MARGIN of the subject, refine the
    first pass's mask too and keep that result if the averaged one disputed MARGIN more.

Measured with benchmarks/no_bites.py (fp16 ISNet, margin chosen on the odd-numbered photos,
checked on the even ones): see README "Edge refinement". The second refinement runs only on
photos with a large dispute (3 of 27 alphamatting photos, 3 of 49 grabcut photos).

The first-pass masks of recent segmentations are remembered by the content of the averaged
mask, so the editor's refine (which gets a copy of the model's mask) finds them too; a mask
changed since (clicks, another model) finds none and is refined as it is.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from bgeraser_gui.core.progress import CancelToken, ProgressFn
from bgeraser_gui.core.refine_types import MattingResult

# Fraction of the subject. On the odd-numbered photos of alphamatting_train27 and grabcut50,
# margins 0.005 to 0.03 gave the same (best) SAD; 0.02, mid-range, refines twice less often.
MARGIN = 0.02
REMEMBERED = 8  # segmentations whose first pass is kept (a network-size array each)

OnePass = Callable[[], np.ndarray]  # builds the first pass's full-size mask


def _key(mask: np.ndarray) -> tuple:
    m = np.ascontiguousarray(mask, dtype=np.float32)
    digest = hashlib.sha1(memoryview(m).cast("B"), usedforsecurity=False).digest()
    return m.shape, digest


class OnePassFallback:
    """Remembers the first pass of recent segmentations; `refine` applies the rule above."""

    def __init__(self, margin: float = MARGIN, remembered: int = REMEMBERED) -> None:
        self.margin = margin
        self._remembered = remembered
        self._one_pass: OrderedDict[tuple, OnePass] = OrderedDict()
        self._lock = threading.Lock()

    def predict(
        self,
        backend: object,
        rgb: np.ndarray,
        progress: ProgressFn,
        cancel: CancelToken | None,
    ) -> np.ndarray:
        """`backend.predict(rgb)`, remembering the first pass where the backend offers it."""
        predict_passes = getattr(backend, "predict_passes", None)
        if predict_passes is None:
            return backend.predict(rgb, progress=progress, cancel=cancel)
        mask, one_pass = predict_passes(rgb, progress=progress, cancel=cancel)
        if one_pass is not None:
            key = _key(mask)
            with self._lock:
                self._one_pass[key] = one_pass
                self._one_pass.move_to_end(key)
                while len(self._one_pass) > self._remembered:
                    self._one_pass.popitem(last=False)
        return mask

    def refine(self, run: Callable[[np.ndarray], MattingResult], mask: np.ndarray) -> MattingResult:
        """`run(mask)`, or `run(first pass)` where the rule prefers it."""
        result = run(mask)
        disputed = getattr(result, "disputed", 0.0)  # results of other refiners may lack it
        if disputed <= self.margin:
            return result
        with self._lock:
            one_pass = self._one_pass.get(_key(mask))
        if one_pass is None:
            return result
        alternative = run(one_pass())
        if disputed <= getattr(alternative, "disputed", 0.0) + self.margin:
            return result
        alternative.notes.append(
            f"refined from the model's single-pass mask: the averaged mask's refinement "
            f"disputed {disputed:.0%} of the subject"
        )
        return alternative
