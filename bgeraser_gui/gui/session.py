"""The editing session: open -> segment -> touch up -> refine -> export, all heavy steps in workers.

`EditorSession` owns the open `Document`s (the last few stay in memory, so PgUp back to an edited
photo finds its edits), the services, and the rules: a failed load keeps the current document;
a model result lands in the document it was computed for (touch-ups are kept); Esc cancels
whatever runs. It has no widgets; the main window shows what it emits.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from bgeraser_gui.backends.model_choice import (
    model_display_name,
    model_installed,
    model_short_name,
)
from bgeraser_gui.core.autosave import AutosaveWriter
from bgeraser_gui.core.document import Document, PreparedMask
from bgeraser_gui.core.image_io import load_image
from bgeraser_gui.core.journal import RecoverableJournal, recover_document
from bgeraser_gui.gui.errors import ErrorReporter
from bgeraser_gui.gui.settings import AppSettings
from bgeraser_gui.services.export import ExportService
from bgeraser_gui.services.inference import InferenceService, SegmentationResult
from bgeraser_gui.services.refine import RefineOutcome, RefineService
from bgeraser_gui.services.worker import JobRunner

KEEP_DOCUMENTS = 4  # documents (with their undo history) kept in memory
CANCELLED_MESSAGES = {
    "open": "Opening cancelled",
    "segment": "Model run cancelled",
    "refine": "Edge refinement cancelled",
    "export": "Export cancelled",
}
DEVICE_NAMES = {"cpu": "CPU", "cuda": "GPU (CUDA)", "mps": "Apple GPU"}


class EditorSession(QObject):
    documentChanged = Signal(object)  # Document | None
    progress = Signal(float, str)
    busyChanged = Signal(bool)
    message = Signal(str)  # short status-bar notice
    modelChanged = Signal(str)
    deviceChanged = Signal(str)
    exported = Signal(object)  # Path | None (None: skipped by the existing-file policy)

    def __init__(
        self,
        settings: AppSettings,
        reporter: ErrorReporter | None,
        parent: QObject | None = None,
        inference: InferenceService | None = None,
        refiner: RefineService | None = None,
        exporter: ExportService | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.reporter = reporter  # the main window installs its own
        self.inference = inference or InferenceService(self)
        self.refiner = refiner or RefineService(self)
        self._matting_warmed = False
        self.exporter = exporter or ExportService(self)
        self.loader = JobRunner(self, "open")
        self.document: Document | None = None
        self._documents: OrderedDict[Path, Document] = OrderedDict()
        self.model = settings.default_model
        self.auto_segment = True
        # path -> mask already computed elsewhere (the batch queue), or None
        self.mask_provider: Callable[[Path], PreparedMask | np.ndarray | None] | None = None
        # path -> True while a mask for it is being computed elsewhere (queued in the batch):
        # the editor waits for that result instead of running the model a second time
        self.result_pending: Callable[[Path], bool] | None = None
        # documents whose edits another part saves by itself (batch items): never "unsaved"
        self.is_autosaved: Callable[[Document], bool] | None = None
        self._saved_state: dict[Document, tuple] = {}  # state at load or last export
        self.autosave: AutosaveWriter | None = None  # journals every open photo (gui.recovery)
        self._export_jobs: dict[int, tuple[Document, tuple]] = {}
        self._wire()

    @property
    def runners(self) -> tuple[JobRunner, ...]:
        return (self.loader, self.inference.runner, self.refiner.runner, self.exporter.runner)

    @property
    def busy(self) -> bool:
        return any(r.busy for r in self.runners)

    def _wire(self) -> None:
        for runner in self.runners:
            runner.progress.connect(lambda _id, f, m: self.progress.emit(f, m))
            runner.busyChanged.connect(lambda _b: self.busyChanged.emit(self.busy))
        self.loader.finished.connect(self._on_loaded)
        self.loader.failed.connect(lambda _id, exc: self.reporter.report("Cannot open", exc))
        self.inference.runner.finished.connect(self._on_segmented)
        self.inference.runner.failed.connect(
            lambda _id, exc: self.reporter.report(
                f"Model {self.model_name(short=True)} failed", exc
            )
        )
        self.inference.backendReady.connect(lambda _m, device: self.deviceChanged.emit(device))
        self.inference.backendFailed.connect(
            lambda model, exc: self.reporter.report(
                f"Model {self.model_name(model, short=True)} is not available", exc
            )
        )
        self.refiner.runner.finished.connect(self._on_refined)
        self.refiner.runner.failed.connect(
            lambda _id, exc: self.reporter.report("Refinement failed", exc)
        )
        self.exporter.runner.finished.connect(self._on_exported)
        self.exporter.runner.failed.connect(
            lambda _id, exc: self.reporter.report("Export failed", exc)
        )
        for runner in self.runners:
            runner.cancelled.connect(
                lambda _id, r=runner: self.message.emit(CANCELLED_MESSAGES.get(r.name, "Cancelled"))
            )

    # -- open ------------------------------------------------------------------------------
    def open_path(self, path: str | Path) -> None:
        """Open a photo in the background; the current document stays until it has loaded."""
        path = Path(path)
        key = path.resolve()
        if key in self._documents:
            self._documents.move_to_end(key)
            self._show(self._documents[key])
            return

        def job(progress, cancel):
            progress(0.0, f"Opening {path.name}…")
            image = load_image(path)
            cancel.check()
            progress(0.8, f"Preparing {path.name}…")
            doc = Document(image)  # not shared yet: safe to build (and journal) off the UI thread
            return key, doc, self.autosave.prepare(doc) if self.autosave is not None else None

        self.loader.submit(job)

    def _on_loaded(self, _job_id: int, payload: object) -> None:
        if isinstance(payload, list):
            self._on_restored(payload)
            return
        key, doc, journal = payload
        self._documents[key] = doc
        self._evict()
        self.settings.add_recent_file(key)
        self.settings.last_open_dir = str(key.parent)
        known = self.mask_provider(key) if self.mask_provider is not None else None
        if known is not None:
            doc.set_model_mask(known, "batch result")
        self._saved_state[doc] = _state(doc)
        if self.autosave is not None:
            self.autosave.track(doc, journal)
        self._show(doc)
        if known is None and self.waits_for_result(doc):
            self.message.emit(f"Waiting for the batch result for {key.name}…")
        elif self.auto_segment and known is None:
            self.segment()

    def waits_for_result(self, doc: Document) -> bool:
        """True when `doc` has no mask yet because another part (the batch) is computing it."""
        pending = self.result_pending
        return (
            doc.model_mask is None
            and doc.path is not None
            and pending is not None
            and pending(Path(doc.path))
        )

    def _evict(self) -> None:
        """Forget the oldest documents beyond KEEP_DOCUMENTS, but never unsaved touch-ups."""
        for key, doc in list(self._documents.items()):
            if len(self._documents) <= KEEP_DOCUMENTS:
                return
            if doc is not self.document and not self.needs_saving(doc):
                del self._documents[key]
                self._saved_state.pop(doc, None)
                if self.autosave is not None:
                    self.autosave.untrack(doc)

    def needs_saving(self, doc: Document) -> bool:
        """True when `doc` has hand edits (strokes, refinement) not exported since."""
        if self.is_autosaved is not None and self.is_autosaved(doc):
            return False
        hand_edited = doc.refined_alpha is not None or bool(doc.touchups.any()) or bool(doc.clicks)
        return hand_edited and _state(doc) != self._saved_state.get(doc)

    def unsaved_documents(self) -> list[Document]:
        return [doc for doc in self._documents.values() if self.needs_saving(doc)]

    def _show(self, doc: Document) -> None:
        self.document = doc
        self.documentChanged.emit(doc)

    # -- model -----------------------------------------------------------------------------
    @property
    def pipeline(self):
        """The cutout pipeline for the chosen model and device (core.pipeline.Pipeline): the
        same object segments, refines and exports; its model loads on first use."""
        return self.inference.pipeline(self.model, self.settings.device, self.settings.model_folder)

    def model_name(self, model: str | None = None, short: bool = False) -> str:
        """What to call `model` (default: the chosen one) in the window: its title."""
        name = model or self.model
        if short:
            return model_short_name(name, self.settings.model_folder)
        return model_display_name(name, self.settings.model_folder)

    def set_model(self, model: str, rerun: bool = True) -> None:
        if model == self.model:
            return
        self.model = model
        self.settings.default_model = model
        self.modelChanged.emit(model)
        if rerun and self.document is not None:
            self.segment()
        else:
            self.warm_up()

    def warm_up(self) -> None:
        """Load the model in the background, if it is on disk (never download at start-up),
        and compile the matting kernels once per session."""
        if not self._matting_warmed:
            self._matting_warmed = True
            self.refiner.warm_up()
        folder = self.settings.model_folder
        if model_installed(self.model, folder):
            self.inference.warm_up(self.model, self.settings.device, folder)
        else:
            self.message.emit(f"{self.model_name()} will be fetched on first use")

    def segment(self) -> bool:
        doc = self.document
        if doc is None:
            self.message.emit("Open a photo first")
            return False
        self.inference.segment(
            doc.rgb,
            self.model,
            self.settings.device,
            tag=doc,
            title=self.model_name(short=True),
            model_folder=self.settings.model_folder,
        )
        return True

    def _on_segmented(self, _job_id: int, result: SegmentationResult) -> None:
        doc = result.tag
        if not isinstance(doc, Document) or doc not in self._documents.values():
            return  # that photo was closed meanwhile
        doc.set_model_mask(result.prepared, self.model_name(result.model))
        self.deviceChanged.emit(result.device)
        device = DEVICE_NAMES.get(result.device.split(":")[0], result.device)
        took = f"{self.model_name(result.model, short=True)} on {device}: {result.seconds:.1f} s"
        if doc is self.document:
            self.message.emit(f"Subject found ({took})")
        else:  # the user moved on meanwhile: say which photo the result is for
            name = doc.path.name if doc.path else "the previous photo"
            self.message.emit(f"Mask ready for {name} ({took})")

    # -- refine ----------------------------------------------------------------------------
    def refine(self, options: object | None = None) -> bool:
        doc = self.document
        if doc is None or not doc.has_mask:
            self.message.emit("Nothing to refine yet: run the model or paint first")
            return False
        rgb, mask, touchups = doc.refine_inputs()
        self.refiner.refine(self.pipeline, rgb, mask, touchups, options, tag=doc)
        return True

    def _on_refined(self, _job_id: int, outcome: RefineOutcome) -> None:
        doc = outcome.tag
        if not isinstance(doc, Document) or doc not in self._documents.values():
            return
        result = outcome.result
        doc.set_refined(result.alpha, getattr(result, "foreground", None))
        notes = "; ".join(getattr(result, "notes", []) or [])
        self.message.emit(
            f"Edges refined in {outcome.seconds:.1f} s" + (f" ({notes})" if notes else "")
        )

    # -- export ----------------------------------------------------------------------------
    def export(self, options: object, out_dir: str | Path) -> bool:
        from bgeraser_gui.core.compose import output_path_for
        from bgeraser_gui.gui.settings import export_options_to_dict

        doc = self.document
        if doc is None or not doc.has_mask:
            self.message.emit("Nothing to export yet")
            return False
        source = doc.path or Path("image.png")
        out_path = output_path_for(source, out_dir, options)
        self.settings.set_last_export(export_options_to_dict(options), str(out_dir))
        # the float alpha is copied here and rounded to 8 bits on the worker (big photos)
        job_id = self.exporter.export(
            self.pipeline, doc.image, doc.alpha(), out_path, options, doc.foreground
        )
        self._export_jobs = {job_id: (doc, _state(doc))}  # only the newest export counts
        return True

    def _on_exported(self, job_id: int, written: Path | None) -> None:
        doc, state = self._export_jobs.pop(job_id, (None, None))
        if written is not None and doc is not None:
            self._saved_state[doc] = state
            if self.autosave is not None and _state(doc) == state:  # nothing left to lose
                self.autosave.discard(doc)
        self.exported.emit(written)
        self.message.emit(f"Exported {written}" if written else "Skipped: the file already exists")

    # -- cancel / shutdown -----------------------------------------------------------------
    def cancel(self) -> bool:
        """Esc: cancel every running job. True when something was running."""
        return any([runner.cancel() for runner in self.runners])

    # -- crash recovery --------------------------------------------------------------------
    def restore(self, journals: list[RecoverableJournal]) -> None:
        """Reopen photos with the edits and undo history of an unclosed session's journals."""

        def job(progress, cancel):
            restored = []
            for i, journal in enumerate(journals):
                progress(i / len(journals), f"Restoring {journal.source.name}…")
                try:
                    doc = recover_document(journal)
                    prepared = self.autosave.prepare(doc) if self.autosave is not None else None
                    restored.append((journal, doc, prepared))
                except Exception as exc:  # the others are still restored; this one is kept
                    restored.append((journal, exc, None))
            return restored

        self.loader.submit(job)

    def _on_restored(self, restored: list[tuple]) -> None:
        for journal, doc, prepared in restored:
            if not isinstance(doc, Document):
                self.reporter.report(f"Cannot restore {journal.source.name}", doc)
                continue
            self._documents[journal.source] = doc  # no saved state: it has unsaved edits
            if self.autosave is not None:
                self.autosave.adopt(doc, journal.folder, prepared)
            self._show(doc)
        self._evict()
        count = sum(isinstance(item[1], Document) for item in restored)
        self.message.emit(f"Restored the edits of {count} photo{'s' * (count != 1)}")

    def shutdown(self) -> None:
        if self.autosave is not None:
            self.autosave.close(discard=True)  # a clean close: nothing to recover
        for runner in (*self.runners, self.inference.warmup_runner, self.refiner.warmup_runner):
            runner.shutdown(timeout_ms=3000)


def _state(doc: Document) -> tuple:
    """Identifies the document's current edit state (changes with every edit, undo or redo)."""
    history = doc.history
    index = history.index
    return (index, id(history.entries[index - 1]) if index else None, history.dropped)
