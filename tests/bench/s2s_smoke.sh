#!/usr/bin/env bash
# s2s_smoke.sh RNNC LIBDIR WORK [torch]: bench/run.sh's S2S-ATT harnesses at
# toy sizes (B 4, T 3, V 20, one short window), no timing checked: the
# spec compiles, bench/bench_s2s.c builds against it as run.sh builds it,
# runs (also split over --threads 2 workers), counts the step's GEMMs and
# reports every key the table reads; the
# first step's loss is near ln V (0 or NaN would mean the lengths or the
# data are not wired). With "torch": the same for bench/torch_s2s.py
# (exit 77 = skipped without python3-torch).
set -euo pipefail
rnnc=$1 lib=$2 work=$3 what=${4:-rnnc}
cd "$(dirname -- "$0")/../.."
mkdir -p "$work"
args=(--B 4 --T 3 --V 20 --threads 1 --windows 1 --seconds 0.01)

check() { # $1 = output: key=value lines; $2.. = keys
    local out=$1
    shift
    for k in "$@"; do
        grep -q "^$k=" <<<"$out" || { echo "FAIL: no $k= in:"; echo "$out"; exit 1; }
    done
    local loss
    loss=$(sed -n 's/^first_loss=//p' <<<"$out")
    # ln 20 = 3.00; a fresh init's logits are small
    awk -v l="$loss" 'BEGIN { exit !(l > 2.5 && l < 3.5) }' ||
        { echo "FAIL: first_loss $loss is not near ln 20 = 3.00"; exit 1; }
    awk -v t="$(sed -n 's/^train_tok_s=//p' <<<"$out")" 'BEGIN { exit !(t > 0) }' ||
        { echo "FAIL: train_tok_s is not positive"; exit 1; }
}

if [ "$what" = torch ]; then
    /usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "skip: python3-torch is not installed"; exit 77; }
    out=$(OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_s2s.py "${args[@]}" --hidden 8 --embed 6)
    check "$out" impl train_tok_s first_loss peak_rss_mb
    echo "$out"
    exit 0
fi

# bench/specs/s2s_att.yaml shrunk (hidden 8, embed 6): the harness does not
# care about the sizes, and the test stays fast
sed -e 's/^  input: {embed: 256}/  input: {embed: 6}/' -e 's/^  hidden: 256/  hidden: 8/' \
    bench/specs/s2s_att.yaml >"$work/s2s_att.yaml"
grep -q '^  hidden: 8' "$work/s2s_att.yaml" || { echo "FAIL: could not shrink the spec"; exit 1; }
"$rnnc" "$work/s2s_att.yaml" -o "$work/s2s_att.c"
cflags="-O1 -std=c11 -D_POSIX_C_SOURCE=200809L -Werror -Wall -Iruntime $(pkg-config --cflags openblas)"
cc $cflags -DRNNC_NO_MAIN -c "$work/s2s_att.c" -o "$work/s2s_att.o"
cc $cflags -DBENCH_MODEL=s2s_att_model bench/bench_s2s.c "$work/s2s_att.o" -Wl,--wrap=rnnrt_gemm -Wl,--wrap=rnnrt_gemm_packed \
    -L"$lib" -lrnnrt $(pkg-config --libs openblas jansson) -lm -pthread -o "$work/bench_s2s"
out=$(OPENBLAS_NUM_THREADS=1 "$work/bench_s2s" "${args[@]}" 2>/dev/null)
check "$out" impl train_tok_s workers first_loss peak_rss_mb step_ms forward_pct backward_pct update_pct \
    gemm_calls_per_step achieved_gflops sgemm_gflops gemm_efficiency
grep -q '^workers=1$' <<<"$out" || { echo "FAIL: workers is not 1"; exit 1; }
awk -v n="$(sed -n 's/^gemm_calls_per_step=//p' <<<"$out")" 'BEGIN { exit !(n > 0) }' ||
    { echo "FAIL: no GEMM counted"; exit 1; }
echo "$out"
# --threads 2: the batch split over 2 workers, and the unsplit column
out=$(OPENBLAS_NUM_THREADS=1 "$work/bench_s2s" --B 4 --T 3 --V 20 --threads 2 --windows 1 --seconds 0.01 2>/dev/null)
check "$out" impl train_tok_s workers train_blas_tok_s first_loss
grep -q '^workers=2$' <<<"$out" || { echo "FAIL: --threads 2 does not split over 2 workers"; exit 1; }
echo "$out"
