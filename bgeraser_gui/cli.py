"""`bgeraser-cli`: the same pipeline as the editor, without a window.

Each sub-command lives in `bgeraser_gui.commands.<name>` and exposes
`register(subparsers)`, which adds its parser and sets `func(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from bgeraser_gui import __version__

COMMANDS = ("cutout", "batch", "models", "eval", "serve")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bgeraser-cli",
        description="Cut subjects out of photos with a local model (no window).",
    )
    parser.add_argument("--version", action="version", version=f"bgeraser {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"bgeraser_gui.commands.{name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
