#!/bin/sh
# docs/api.md must be what scripts/gen-api-doc.py writes from schemas/.
# To update it: scripts/gen-api-doc.py
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
python3 "$top/scripts/gen-api-doc.py" --output "$actual"
if ! diff -u "$top/docs/api.md" "$actual"; then
    echo "docs/api.md is out of date: run scripts/gen-api-doc.py" >&2
    exit 1
fi
