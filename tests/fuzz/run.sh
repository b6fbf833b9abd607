#!/bin/sh
# Builds the fuzz target with clang (libFuzzer, ASan, UBSan) and runs it
# for a bounded time over the seed corpus.  A crash, leak or sanitizer
# report fails the test.
#   tests/fuzz/run.sh [SECONDS]    (default 30)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-30}
out=${MSLB_FUZZ_DIR:-$top/build/fuzz}
mkdir -p "$out/corpus"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -D_GNU_SOURCE -I"$top/include" \
    "$top/tests/fuzz/fuzz_body.c" \
    "$top"/flows/model_read.c "$top"/flows/model.c "$top"/flows/model_doc.c \
    "$top"/flows/model_util.c "$top"/flows/model_json.c \
    "$top"/flows/model_monitor.c \
    "$top"/flows/model_slots.c "$top"/flows/model_outbound.c \
    "$top"/flows/slots.c \
    $(pkg-config --cflags --libs jansson) -o "$out/fuzz_body"
# New inputs go to the build tree; the seeds in the source tree stay as
# they are.
"$out/fuzz_body" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$out/" \
    -print_final_stats=1 "$out/corpus" "$top/tests/fuzz/corpus"
