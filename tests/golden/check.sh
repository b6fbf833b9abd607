#!/bin/sh
# Golden test: compile NAME.json with the arguments in NAME.args and compare
# with NAME.flows.  UPDATE=1 rewrites the expected file.
set -eu
compile=$1
input=$2
dir=$(dirname "$input")
name=$(basename "$input" .json)
# NAME.args: [--flags] BRIDGE [FRONT [BACK]]
flags=$(tr ' ' '\n' <"$dir/$name.args" | grep '^--' | tr '\n' ' ' || true)
args=$(tr ' ' '\n' <"$dir/$name.args" | grep -v '^--' | tr '\n' ' ' || true)
actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
# shellcheck disable=SC2086
"$compile" $flags "$input" $args >"$actual"
if [ "${UPDATE:-}" = 1 ]; then
    cp "$actual" "$dir/$name.flows"
fi
diff -u "$dir/$name.flows" "$actual"
