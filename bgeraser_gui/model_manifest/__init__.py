"""The model manifest (manifest.toml): every published model the registry knows, read by
`bgeraser_gui.backends.registry`. Package data, so checkouts and wheels find it alike; the
notes on each model (sources, licences, measurements) are in the top-level models/README.md."""
