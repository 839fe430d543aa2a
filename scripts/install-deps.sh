#!/usr/bin/env bash
# install-deps.sh: install the Debian packages rnnc needs to build and test.
#
#   bash scripts/install-deps.sh [EXTRA_PACKAGE...]
#
# Checks every package with dpkg-query first and runs apt-get (update +
# install, no recommends) only for what is missing, so on a machine that has
# everything it touches neither apt nor the network. Extra package names
# (e.g. python3-torch, which bench/ needs) are checked and installed the same
# way. Uses sudo when not run as root. Open MPI (libopenmpi-dev, openmpi-bin)
# is what the RNNC_MPI build option finds; without it the trainers build
# without MPI and the MPI tests are skipped.
set -euo pipefail

PACKAGES=(cmake gcc clang libclang-rt-dev make pkg-config libyaml-dev libopenblas-dev
          libcmocka-dev libclang-dev python3 libopenmpi-dev openmpi-bin
          libjansson-dev "$@")

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-deps: error: dpkg-query not found; this script supports Debian/Ubuntu only." >&2
    echo "install-deps: install by hand: ${PACKAGES[*]}" >&2
    exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages present (${PACKAGES[*]})"
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "install-deps: error: missing packages (${missing[*]}), not root, and sudo is not installed." >&2
        echo "install-deps: run as root: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    sudo=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: done"
