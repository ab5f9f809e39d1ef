"""Entry script of the PyInstaller bundle: one program, two executables.

PyInstaller builds `bgeraser` (the editor) and `bgeraser-cli` (the command line) from this one
script so they share a single analysis and one `_internal/` folder. Which one runs is decided by
the executable's own name, exactly like the `bgeraser` / `bgeraser-cli` entry points of a pip
install (`bgeraser_gui.app:main` and `bgeraser_gui.cli:main`).
"""

import multiprocessing
import sys
from pathlib import Path


def main() -> int:
    # the batch engine starts worker processes with "spawn": in a frozen app they re-enter here
    multiprocessing.freeze_support()
    if Path(sys.executable).stem.lower().startswith("bgeraser-cli"):
        from bgeraser_gui.cli import main as run
    else:
        from bgeraser_gui.app import main as run
    return int(run() or 0)


if __name__ == "__main__":
    sys.exit(main())
