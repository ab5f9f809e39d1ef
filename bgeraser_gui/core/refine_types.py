"""The light half of core/matting: what a refinement is asked (RefineOptions) and what it
returns (MattingResult). The pipeline and the CLI import these without the solver's numba and
scipy stack (~1 s of every start), which loads only when a refinement runs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RefineOptions:
    enabled: bool = True
    method: str = "cf"  # "cf" | "knn" | "lkm" | "rw"
    band_px: int | None = None  # None: scale with image size
    decontaminate: bool = True
    adaptive: bool = True
    colour_evidence: bool = True  # settle large soft areas by the sure pixels' colours


@dataclass
class MattingResult:
    alpha: np.ndarray  # float32 HxW in [0, 1]
    foreground: np.ndarray | None  # float32 HxWx3 in [0, 1], or None without decontamination
    trimap: np.ndarray  # uint8 HxW, 0 / 128 / 255
    notes: list[str] = field(default_factory=list)
    # Area where refinement and the model disagreed and the model's decision was kept, as a
    # fraction of the subject (core/subject_guard.py); raises the review score.
    disputed: float = 0.0
