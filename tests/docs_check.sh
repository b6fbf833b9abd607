#!/bin/sh
# docs/pipeline.md must describe every table declared in pipeline.h.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
rc=0
for t in $(sed -n 's/^ *MSLB_TABLE(\([A-Z_]*\), *\([0-9]*\),.*/\1:\2/p' "$top/include/mslb/pipeline.h"); do
    name=${t%%:*}
    num=${t##*:}
    if ! grep -q "^| $num | $name |" "$top/docs/pipeline.md"; then
        echo "docs/pipeline.md: table $num $name is not described"
        rc=1
    fi
done
exit $rc
