#!/usr/bin/env bash
# test.sh: README quick-start command 2. Installs what is missing, configures
# and builds everything (compiler, runtime, trainers for generated/, test
# programs), then runs the whole ctest suite and exits with its status.
#
#   bash scripts/test.sh [CTEST_ARG...]      e.g. bash scripts/test.sh -R golden
#
# BUILD_DIR (default: build) and JOBS (default: 2) can be set in the
# environment.
set -euo pipefail
cd "$(dirname -- "$0")/.."

build=${BUILD_DIR:-build}
jobs=${JOBS:-2}

step() { printf '\n==> %s\n' "$*"; }

step "checking dependencies"
bash scripts/install-deps.sh

step "configuring ($build, Release)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release

step "building (-j$jobs)"
cmake --build "$build" -j"$jobs"

step "running the tests (ctest -j$jobs)"
# Tests without their own TIMEOUT get 300 s, so a hang cannot eat the CI budget.
set +e
(cd "$build" && ctest --output-on-failure -j"$jobs" --timeout 300 "$@")
status=$?
set -e
if [ "$status" -eq 0 ]; then
    step "all tests passed"
else
    step "tests FAILED (ctest exit $status); details above"
fi
exit "$status"
