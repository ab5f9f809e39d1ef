"""Application resources (icons, desktop files), shipped as bgeraser_gui.resources."""
