"""`bgeraser-cli serve`: the one cutout pipeline behind an HTTP API (Qt-free).

`app.create_app` wires the routes (`removebg`: remove.bg-compatible, `api`: raw body in, image
out, health and metrics) over a `workers.WorkerPool` (a bounded queue and worker threads, each
running a pipeline built by `assemble.build_pipeline`). `guards` checks the API key and the
request size before a body byte is parsed; `errors` gives every failure one JSON shape.
"""
