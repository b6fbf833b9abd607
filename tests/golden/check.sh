#!/bin/sh
# Golden test: compile NAME.json for every bridge line in NAME.args and
# compare with NAME.flows.  UPDATE=1 rewrites the expected file.
set -eu
compile=$1
input=$2
dir=$(dirname "$input")
name=$(basename "$input" .json)
args=$(cat "$dir/$name.args")
actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
# shellcheck disable=SC2086
"$compile" "$input" $args >"$actual"
if [ "${UPDATE:-}" = 1 ]; then
    cp "$actual" "$dir/$name.flows"
fi
diff -u "$dir/$name.flows" "$actual"
