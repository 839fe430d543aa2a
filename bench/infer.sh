#!/usr/bin/env bash
# infer.sh: batch-1 generation speed of the standalone file (rnnc
# --inference, issue 15) against the linked trainer's `sample`, side by side.
#
#   bash bench/infer.sh [--spec specs/gru.yaml] [--hidden 256] [--len 4000]
#                       [--repeat 5] [--coretypes "Haswell default"]
#
# Builds the spec (hidden set to --hidden) into a trainer (cc -O2, librnnrt,
# OpenBLAS, as README's quick start), trains it 20 steps (the weights do not
# change the speed), writes the standalone file from that checkpoint and
# compiles it with the driver of tests/infer/driver.c at -O2, -O3 and
# -O3 -march=native. Both sides generate from the same prefix with the same
# seed and temperature 1 (the same text: tests/e2e/infer.sh checks that),
# one token per step, one thread. Each side runs --len and 2 x --len tokens,
# --repeat times each, and its rate is --len / (best time of 2 x --len -
# best time of --len): process start, loading and the prefix cancel out.
# The trainer runs with OPENBLAS_CORETYPE=Haswell (AVX2 kernels) and unset
# ("default": OpenBLAS picks, AVX-512 here); the standalone file uses no
# BLAS. Prints tokens/s and standalone / trainer.
set -euo pipefail
cd "$(dirname -- "$0")/.."
root=$PWD
build=${RNNC_BENCH_BUILD:-$root/build}
spec=specs/gru.yaml hidden=256 len=4000 repeat=5 coretypes="Haswell default"
while [ $# -gt 0 ]; do
    case "$1" in
    --spec) spec=$2; shift 2 ;;
    --hidden) hidden=$2; shift 2 ;;
    --len) len=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --coretypes) coretypes=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "infer.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done
[ -x "$build/rnnc" ] && [ -f "$build/librnnrt.a" ] ||
    { echo "infer.sh: build rnnc and librnnrt first (cmake --build $build --target rnnc rnnrt)" >&2; exit 2; }
name=$(sed -n 's/^model: *//p' "$spec")
upper=$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')
work=$build/bench_infer/$name-$hidden
rm -rf "$work" && mkdir -p "$work"
sed -E "s/^(  hidden:) [0-9]+/\1 $hidden/" "$spec" >"$work/$name.yaml"
"$build/rnnc" "$work/$name.yaml" -o "$work/trainer.c"
cc -O2 -std=c11 -I"$root/runtime" "$work/trainer.c" "$build/librnnrt.a" $(pkg-config --libs openblas jansson) \
    -lm -lpthread -o "$work/trainer"
"$work/trainer" train --max-steps 20 --threads 1 --quiet --sample-len 0 --ckpt "$work/m.ckpt" >/dev/null
"$build/rnnc" "$work/$name.yaml" --inference --weights "$work/m.ckpt" -o "$work/m_infer.c"
variants=("O2:-O2" "O3:-O3" "O3-native:-O3 -march=native")
for v in "${variants[@]}"; do
    tag=${v%%:*} flags=${v#*:}
    # shellcheck disable=SC2086
    cc $flags -std=c11 -c "$work/m_infer.c" -o "$work/m_$tag.o"
    cc -O2 -std=c11 -D_GNU_SOURCE -DNO_ALLOC_COUNT -DMODEL="$name" -DUPPER="$upper" \
        -DINFER_FILE="\"$work/m_infer.c\"" "$root/tests/infer/driver.c" "$work/m_$tag.o" -lm -o "$work/driver_$tag"
done

best() { # N CMD...: the best wall time of --repeat runs, seconds
    local n=$1 b="" t0 t1 t
    shift
    for _ in $(seq "$repeat"); do
        t0=$(date +%s.%N)
        "$@" >/dev/null 2>&1
        t1=$(date +%s.%N)
        t=$(echo "$t1 - $t0" | bc -l)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
    done
    echo "$b"
}
rate() { # CMD-FOR-N CMD-FOR-2N (as arrays joined by the caller): tokens/s
    echo "$len / ($2 - $1)" | bc -l
}
prefix="the time "
declare -A standalone
for v in "${variants[@]}"; do
    tag=${v%%:*}
    t1=$(best 1 "$work/driver_$tag" sample "$prefix" "$len" 1 1)
    t2=$(best 1 "$work/driver_$tag" sample "$prefix" $((2 * len)) 1 1)
    standalone[$tag]=$(rate "$t1" "$t2")
done
printf '%s hidden %s, batch 1, %s tokens (rates from %s and %s tokens, best of %s), %s\n' "$name" "$hidden" \
    "$len" "$len" $((2 * len)) "$repeat" "$(uname -m)"
printf '%-30s %12s\n' "side" "tokens/s"
for v in "${variants[@]}"; do
    tag=${v%%:*}
    printf '%-30s %12.0f\n' "standalone ${v#*:}" "${standalone[$tag]}"
done
for ct in $coretypes; do
    if [ "$ct" = default ]; then env=(env -u OPENBLAS_CORETYPE); else env=(env OPENBLAS_CORETYPE="$ct"); fi
    t1=$(best 1 "${env[@]}" OPENBLAS_NUM_THREADS=1 "$work/trainer" sample --ckpt "$work/m.ckpt" --prefix "$prefix" \
        --len "$len" --seed 1)
    t2=$(best 1 "${env[@]}" OPENBLAS_NUM_THREADS=1 "$work/trainer" sample --ckpt "$work/m.ckpt" --prefix "$prefix" \
        --len $((2 * len)) --seed 1)
    tr=$(rate "$t1" "$t2")
    printf '%-30s %12.0f   standalone / trainer:' "trainer sample ($ct)" "$tr"
    for v in "${variants[@]}"; do
        printf ' %s %.2fx' "${v%%:*}" "$(echo "${standalone[${v%%:*}]} / $tr" | bc -l)"
    done
    printf '\n'
done
