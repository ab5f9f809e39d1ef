"""Tab review on the canvas: step through the uncertain regions and outline the current one.

The stops come from core.region_review (merged, most important first). The current stop is
drawn as a two-tone dashed box (readable on any photo: white dashes on a dark line) with its
position, "3 of 8", in a tag at its top-left corner.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen

from bgeraser_gui.core.history import Rect
from bgeraser_gui.core.region_review import ReviewStop

REGION_MAX_ZOOM = 8.0  # Tab never zooms closer than this onto a tiny region
OUTLINE_MARGIN_PX = 3  # the box is drawn this far outside the region (screen pixels)


class RegionReviewSlots:
    """Mixin for CanvasView: Tab / Shift+Tab slots and the current stop's outline."""

    def uncertain_regions(self) -> list[ReviewStop]:
        return [] if self._doc is None else self._regions.regions(self._doc.alpha())

    def current_region(self) -> tuple[Rect, int, int] | None:
        """(box, 1-based position, count) of the stop Tab showed last, or None."""
        return self._shown_region

    def goto_next_uncertain(self) -> ReviewStop | None:
        return self._goto_uncertain(+1)

    def goto_prev_uncertain(self) -> ReviewStop | None:
        return self._goto_uncertain(-1)

    def _goto_uncertain(self, step: int) -> ReviewStop | None:
        if self._doc is None:
            return None
        region = self._regions.step(self._doc.alpha(), step)
        count = len(self._regions.regions(self._doc.alpha()))
        index = self._regions.index + 1
        self._shown_region = None if region is None else (region.rect, index, count)
        if region is not None:
            self.frame_rect(region.rect)
        else:
            self.update()
        self.uncertainRegionChanged.emit(index, count)
        return region

    def frame_rect(self, rect: Rect, fill: float = 0.6) -> None:
        """Zoom and centre so `rect` fills about `fill` of the view (never beyond 800 %)."""
        self._view.frame(rect, fill, REGION_MAX_ZOOM)
        self._view_changed()

    def _paint_region_outline(self, painter: QPainter) -> None:
        if self._shown_region is None:
            return
        rect, index, count = self._shown_region
        top_left = self._view.to_widget(rect.x0, rect.y0)
        bottom_right = self._view.to_widget(rect.x1, rect.y1)
        m = OUTLINE_MARGIN_PX
        box = QRectF(top_left, bottom_right).adjusted(-m, -m, m, m)
        paint_review_outline(painter, box, f"{index} of {count}")


def paint_review_outline(painter: QPainter, box: QRectF, label: str) -> None:
    """A dashed white-on-black box (visible on light and dark photos) with a label tag."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(QPen(QColor(0, 0, 0, 220), 3))
    painter.drawRect(box)
    dashes = QPen(QColor(255, 255, 255), 1, Qt.PenStyle.CustomDashLine)
    dashes.setDashPattern([5, 4])
    painter.setPen(dashes)
    painter.drawRect(box)
    font = QFont(painter.font())
    font.setBold(True)
    painter.setFont(font)
    metrics = QFontMetricsF(font)
    tag = QRectF(
        QPointF(box.left(), box.top() - metrics.height() - 4),
        QPointF(box.left() + metrics.horizontalAdvance(label) + 10, box.top()),
    )
    if tag.top() < 0:  # no room above the box: inside it
        tag.moveTop(box.top() + 2)
    painter.fillRect(tag, QColor(0, 0, 0, 200))
    painter.setPen(QColor(255, 255, 255))
    painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, label)
    painter.restore()
