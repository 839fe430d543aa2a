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
# compiles it with the driver of tests/infer/driver.c at -O2, -O2
# -march=native, -O3 and -O3 -march=native. Both sides generate from the same prefix with the same
# seed and temperature 1 (the same text: tests/e2e/infer.sh checks that),
# one token per step, one thread. Each side runs --len and 2 x --len tokens,
# in --repeat rounds (every side once a round, so load changes touch all
# alike), and its rate is --len / (best time of 2 x --len - best time of
# --len): process start, loading and the prefix cancel out.
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
variants=("O2:-O2" "O2-native:-O2 -march=native" "O3:-O3" "O3-native:-O3 -march=native")
for v in "${variants[@]}"; do
    tag=${v%%:*} flags=${v#*:}
    # shellcheck disable=SC2086
    cc $flags -std=c11 -c "$work/m_infer.c" -o "$work/m_$tag.o"
    cc -O2 -std=c11 -D_GNU_SOURCE -DNO_ALLOC_COUNT -DMODEL="$name" -DUPPER="$upper" \
        -DINFER_FILE="\"$work/m_infer.c\"" "$root/tests/infer/driver.c" "$work/m_$tag.o" -lm -o "$work/driver_$tag"
done

# The sides: a name and its command (without the length).
sides=() cmds=()
for v in "${variants[@]}"; do
    sides+=("standalone ${v#*:}")
    cmds+=("$work/driver_${v%%:*} sample PREFIX")
done
for ct in $coretypes; do
    sides+=("trainer sample ($ct)")
    if [ "$ct" = default ]; then cmds+=("env -u OPENBLAS_CORETYPE TRAINER"); else
        cmds+=("env OPENBLAS_CORETYPE=$ct TRAINER"); fi
done
prefix="the time "
run() { # SIDE LEN: one run's wall time, seconds
    local c=${cmds[$1]} n=$2 t0 t1
    t0=$(date +%s.%N)
    case "$c" in
    *PREFIX) ${c% PREFIX} "$prefix" "$n" 1 1 >/dev/null 2>&1 ;;
    *TRAINER) OPENBLAS_NUM_THREADS=1 ${c% TRAINER} "$work/trainer" sample --ckpt "$work/m.ckpt" --prefix "$prefix" \
        --len "$n" --seed 1 >/dev/null 2>&1 ;;
    esac
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
# Rounds: every side once per round (N and 2N), so a change of the machine's
# load touches all alike; each side's best time of the rounds.
declare -A b1 b2
for _ in $(seq "$repeat"); do
    for i in "${!sides[@]}"; do
        t=$(run "$i" "$len")
        [ -z "${b1[$i]:-}" ] || [ "$(echo "$t < ${b1[$i]}" | bc -l)" = 1 ] && b1[$i]=$t
        t=$(run "$i" $((2 * len)))
        [ -z "${b2[$i]:-}" ] || [ "$(echo "$t < ${b2[$i]}" | bc -l)" = 1 ] && b2[$i]=$t
    done
done
printf '%s hidden %s, batch 1, %s tokens (rates from %s and %s tokens, best of %s rounds), %s, load %s\n' \
    "$name" "$hidden" "$len" "$len" $((2 * len)) "$repeat" "$(uname -m)" "$(cut -d' ' -f1-3 /proc/loadavg)"
declare -A rate
for i in "${!sides[@]}"; do
    rate[$i]=$(echo "$len / (${b2[$i]} - ${b1[$i]})" | bc -l)
done
printf '%-32s %9s %9s %12s\n' "side" "s (N)" "s (2N)" "tokens/s"
for i in "${!sides[@]}"; do
    printf '%-32s %9.3f %9.3f %12.0f' "${sides[$i]}" "${b1[$i]}" "${b2[$i]}" "${rate[$i]}"
    if [[ ${sides[$i]} == trainer* ]]; then
        printf '   standalone / trainer:'
        for j in "${!variants[@]}"; do
            printf ' %s %.2fx' "${variants[$j]%%:*}" "$(echo "${rate[$j]} / ${rate[$i]}" | bc -l)"
        done
    fi
    printf '\n'
done
