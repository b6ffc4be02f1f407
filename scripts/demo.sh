#!/usr/bin/env bash
# The main job on embedded defaults. Output goes to demo-output/.
set -euo pipefail
OUT=${1:-demo-output}
mkdir -p "$OUT"
echo "== ReactomeNet on the bundled Reactome release"
reactomenet info
