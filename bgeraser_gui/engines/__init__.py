"""Ways to run the batch pipeline over many images: a local pool or a Ray cluster.

Every engine takes a picklable `assemble.PipelineSpec` (each worker builds its own pipeline with
`assemble.build_pipeline`, loading the model once) and yields one `ReportRecord` per job as jobs finish.
"""
