#!/bin/sh
# Configures and builds kartenn into a build directory.
# usage: scripts/build.sh BUILD_DIR [cmake options…]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift
cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
