#!/usr/bin/env bash
# Sets up (packages, libopenvswitch), builds, and runs the whole test suite:
# unit, golden and end-to-end tests (real OVS, namespaces, traffic).
#   scripts/test.sh [ctest arguments...]     e.g. -L unit, -R nat
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/setup.sh"
bash "$top/scripts/build.sh"
cd "$top/build"
ctest --output-on-failure "$@" </dev/null
