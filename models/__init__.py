"""The model manifest (manifest.toml), shipped inside the package as bgeraser_gui.model_manifest."""
