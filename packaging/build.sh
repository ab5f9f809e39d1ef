#!/usr/bin/env bash
# Build the one-folder bgeraser app for the current platform (Linux or macOS; Windows: see
# packaging/README.md) into packaging/dist/bgeraser/ and run its self-check.
#
#   bash packaging/build.sh
#
# Environment (all optional):
#   BGERASER_PKG_VENV   build virtualenv (default packaging/build/venv; reused when present)
#   BGERASER_TORCH      torch requirement (default torch==2.13.0, a CPU-only build here)
#   BGERASER_TORCH_PIP  extra pip arguments for torch, e.g. the --index-url of PyTorch's CPU
#                       wheel index, so pip does not pick the much larger CUDA build
#   PYTHON              interpreter for a new venv (default python3; 3.11+, for tomllib)
# Models are not bundled: the app downloads or imports them into the per-user cache.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${BGERASER_PKG_VENV:-$ROOT/packaging/build/venv}
TORCH=${BGERASER_TORCH:-torch==2.13.0}
DIST=$ROOT/packaging/dist
WORK=$ROOT/packaging/build/pyinstaller
APP_DIR=$DIST/bgeraser

echo "== build virtualenv: $VENV"
[ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV"
PY=$VENV/bin/python
# shellcheck disable=SC2086  # BGERASER_TORCH_PIP is a list of pip arguments
"$PY" -m pip install -q "$TORCH" ${BGERASER_TORCH_PIP:-}
"$PY" -m pip install -q "pyinstaller>=6.10"

# Runtime requirements from pyproject.toml, with the heif and ort extras (HEIC photos, the ONNX
# Runtime engine), but without torch (pinned above) and torchvision (not used; PyPI's build does
# not import with the CPU torch).
REQS=$ROOT/packaging/build/requirements.txt
mkdir -p "$(dirname "$REQS")"
"$PY" - "$ROOT/pyproject.toml" >"$REQS" <<'EOF'
import re
import sys
import tomllib

project = tomllib.load(open(sys.argv[1], "rb"))["project"]
extras = project.get("optional-dependencies", {})
wanted = project["dependencies"] + extras.get("heif", []) + extras.get("ort", [])
for requirement in wanted:
    name = re.split(r"[ <>=!~;\[]", requirement, maxsplit=1)[0].lower()
    if name not in {"torch", "torchvision"}:
        print(requirement)
EOF
"$PY" -m pip install -q -r "$REQS"
"$PY" -m pip uninstall -q -y torchvision 2>/dev/null || true
# the app itself, as a regular (non-editable) install so its metadata and data files are real
"$PY" -m pip install -q --no-deps --force-reinstall "$ROOT"
"$PY" -c "import torch, bgeraser_gui; print('torch', torch.__version__, '| bgeraser', bgeraser_gui.__version__)"

echo "== pyinstaller"
rm -rf "$APP_DIR"
(cd "$ROOT/packaging" && "$PY" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" bgeraser.spec)

echo "== self-check"
"$APP_DIR/bgeraser" --version
"$APP_DIR/bgeraser-cli" --version
"$APP_DIR/bgeraser-cli" cutout --help >/dev/null
echo "size: $(du -sh "$APP_DIR" | cut -f1) in $APP_DIR"
echo "full self-check (real model, one photo): python -m pytest -q tests/test_bundle.py"
