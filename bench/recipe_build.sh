#!/usr/bin/env bash
# recipe_build.sh SPEC [BUILD]: compile a recipe spec (examples/recipes/) into
# a float trainer BUILD/recipes/NAME, built as bench/run.sh builds: Release,
# RNNC_NATIVE=ON (-march=native), linked by hand against librnnrt.a.
# BUILD (relative to the repository root) defaults to build/. Prints the
# trainer's path.
set -euo pipefail
spec=${1:?usage: recipe_build.sh SPEC [BUILD]}
build=${2:-build}
[ -f "$spec" ] || { echo "recipe_build: error: no spec at $spec" >&2; exit 1; }
spec=$(realpath -- "$spec")
cd "$(dirname -- "$0")/.."
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DRNNC_NATIVE=ON >/dev/null
cmake --build "$build" -j2 --target rnnc rnnrt >&2
name=$(basename -- "$spec" .yaml)
mkdir -p "$build/recipes"
"$build/rnnc" "$spec" -o "$build/recipes/$name.c"
cc -O2 -march=native -std=c11 -D_POSIX_C_SOURCE=200809L -Iruntime "$build/recipes/$name.c" \
    "$build/librnnrt.a" $(pkg-config --libs openblas jansson) -lpthread -lm -o "$build/recipes/$name"
echo "$build/recipes/$name"
