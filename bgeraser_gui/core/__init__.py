"""Qt-free building blocks: image I/O, the document and its history, trimap, matting, compose
and export, review score, evaluation metrics, and the cutout pipeline (`core.pipeline`), which
`bgeraser_gui.assemble.build_pipeline` configures for every front end."""
