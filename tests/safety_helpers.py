"""Run `batch` and `cutout` in-process with the fake backend (for the tests/test_safety_*)."""

from __future__ import annotations

import argparse

from batch_fakes import make_backend

from bgeraser_gui.commands import batch, cutout


def run_batch(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bgeraser-cli")
    batch.register(parser.add_subparsers(dest="command"))
    return batch.run(parser.parse_args(["batch", *argv]), backend_factory=make_backend)


def run_cutout(argv: list[str], monkeypatch) -> int:
    """`cutout` builds its pipeline from the command line: its model load is faked here."""
    from bgeraser_gui import assemble

    monkeypatch.setattr(
        assemble.PipelineSpec, "load_backend", lambda self, progress=None: make_backend()
    )
    parser = argparse.ArgumentParser(prog="bgeraser-cli")
    cutout.register(parser.add_subparsers(dest="command"))
    return cutout.run(parser.parse_args(["cutout", *argv]))
