"""The Qt editor: main window, canvas, panels, dialogs. No heavy work on the UI thread: the
session hands segmentation, refinement and export to `services/` (the one pipeline)."""
