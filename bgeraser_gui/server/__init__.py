"""`bgeraser-cli serve`: the one cutout pipeline behind an HTTP API (Qt-free).

`app.create_app` wires the routes (`removebg`: remove.bg-compatible, `api`: raw body in, image
out, health and metrics) over a `workers.WorkerPool` (a bounded queue and dispatcher threads,
each feeding a `processes.WorkerProcess` that runs a pipeline built by
`assemble.build_pipeline`, away from the event loop). `guards` limits the requests in progress
and checks the API key and the request size before a body byte is parsed; `errors` gives every
failure one JSON shape.
"""
