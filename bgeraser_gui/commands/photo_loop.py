"""The photo loop every `eval` mode shares: each photo of the data sets for each model, one
progress bar, and Ctrl+C (or SIGTERM turned into an interrupt) ending the loop early so the
report covers the photos done."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence

from bgeraser_gui.core.eval_dataset import EvalSample


class PhotoLoop:
    """`with PhotoLoop(progress_bar, models, order) as loop:` then, per model,
    `for sample in loop.photos(model.label): ...`. An interrupt inside the block is reported
    and swallowed; `loop.done` of `loop.total` photos were finished."""

    def __init__(
        self, progress_bar: Callable[[int], object], models: Sequence, order: list[EvalSample]
    ) -> None:
        self.total = len(models) * len(order)
        self.done = 0
        self._order = order
        self.bar = progress_bar(self.total)

    @property
    def interrupted(self) -> bool:
        return self.done < self.total

    def photos(self, label: str) -> Iterator[EvalSample]:
        for sample in self._order:
            self.bar.set_description(f"{label} {sample.dataset}/{sample.stem}"[:60])
            yield sample
            self.bar.update(1)
            self.done += 1

    def __enter__(self) -> PhotoLoop:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.bar.close()
        if exc_type is KeyboardInterrupt:
            print(f"\ninterrupted: reporting the {self.done} of {self.total} images done",
                  file=sys.stderr)  # fmt: skip
            return True
        return False


def skip_photo(skipped: list[str], sample: EvalSample, exc: Exception) -> None:
    """Record a photo that could not be evaluated (the run goes on) and say so."""
    skipped.append(f"{sample.dataset}/{sample.stem}: {exc}")
    print(f"warning: skipped {skipped[-1]}", file=sys.stderr)
