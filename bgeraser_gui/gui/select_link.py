"""Wires the select-object tool: canvas clicks -> `SelectService` (worker) -> document.

The clicks use the loaded model (the session's pipeline, the same one that segments) for their
crop proposals; while the pointer rests, the canvas shows what a click there would change; a new model mask replays the photo's clicks on it; Esc cancels a click that
is still being computed; the status bar says what each click did.
"""

from __future__ import annotations

from bgeraser_gui.core.click_proposals import model_segment
from bgeraser_gui.core.document import Document
from bgeraser_gui.core.interactive import Click
from bgeraser_gui.core.progress import ProgressFn
from bgeraser_gui.services.select import SelectService

MESSAGE_MS = 6000


def attach_select_tool(window) -> SelectService:
    """Create the window's select service and connect it (canvas, session, status bar)."""
    session = window.session

    def segment_provider(progress: ProgressFn):
        return model_segment(session.pipeline.load(progress))

    selector = SelectService(segment_provider, window)

    def clicked(x: int, y: int, positive: bool) -> None:
        doc = session.document
        if doc is not None:
            selector.click(doc, Click(x, y, positive))

    def segmented(_job_id: int, result: object) -> None:
        doc = getattr(result, "tag", None)
        if isinstance(doc, Document) and doc.clicks:
            selector.replay(doc)

    def rested(x: int, y: int, positive: bool) -> None:
        doc = session.document
        if doc is not None and doc.model_mask is not None:
            selector.prefetch(doc, Click(x, y, positive))

    def previewed(preview) -> None:
        if preview.doc is session.document:
            click = preview.click
            window.canvas.show_click_preview(click.x, click.y, preview.polygons, click.positive)

    window.canvas.selectClicked.connect(clicked)
    selector.previewed.connect(previewed)
    window.canvas.selectHoverRest.connect(rested)
    session.inference.runner.finished.connect(segmented)
    session.documentChanged.connect(lambda _doc: selector.cancel())
    selector.message.connect(lambda text: window.statusBar().showMessage(text, MESSAGE_MS))
    return selector
