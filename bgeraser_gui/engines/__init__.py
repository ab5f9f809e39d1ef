"""Ways to run the batch pipeline over many images: a local pool or a Ray cluster.

Every engine takes a picklable `PipelineSpec` (each worker builds its own pipeline, loading
the model once) and yields one `ReportRecord` per job as jobs finish.
"""
