"""`bgeraser-cli` with the `fast` preset's network input at the photo's aspect ("fit", issue 20),
for benchmarks/batch.py --fit and benchmarks/cutout_one.py --fit: what `--quality fast` would
cost with it, measured side by side with the square input.

    python benchmarks/fit_cli.py batch IN -o OUT --quality fast --no-refine
"""

from __future__ import annotations

import sys

from bgeraser_gui.backends import segmenter
from bgeraser_gui.cli import main

segmenter.QUALITY_PRESETS["fast"] = segmenter.FAST.replace(fit_input=True)

if __name__ == "__main__":
    sys.exit(main())
