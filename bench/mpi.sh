#!/usr/bin/env bash
# mpi.sh: training throughput of 1 rank against N ranks (issue 16).
#
#   bash bench/mpi.sh [--config GRU-L] [--ranks 2] [--max-steps 40]
#                     [--repeat 3] [--data FILE]
#
# Builds the config's trainer (native, as bench/run.sh does) with Open MPI
# (runtime/train/rnnrt_mpi.c compiled with mpicc -DRNNC_MPI), then trains
# --max-steps steps of the same global minibatch (B rows x T steps) on
# 1 rank x 1 thread and on N ranks x 1 thread (OpenBLAS 1 thread each,
# `mpirun --bind-to core`), --repeat times each, alternating, and prints the
# trainer's RESULT train_tok_s (tokens of the global batch per second of
# training, rank 0's clock) for each run, the medians and their ratio, and
# last a line "RESULT one_tok_s=... many_tok_s=... mpi_ratio=..." (bench/run.sh
# reads it for the table's MPI column).
# --data defaults to ../shared/data/timemachine.txt, else the trainer's
# default corpus. OPENBLAS_CORETYPE is taken from the environment. The ratio only means
# something with N free cores: run it on a quiet machine (`uptime`).
set -euo pipefail
cd "$(dirname -- "$0")/.."
root=$PWD
build=${RNNC_BENCH_BUILD:-$root/build/bench}
config=GRU-L ranks=2 steps=40 repeat=3
data= default_data=$root/../shared/data/timemachine.txt
while [ $# -gt 0 ]; do
    case "$1" in
    --config) config=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --max-steps) steps=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "mpi.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done
command -v mpirun >/dev/null && command -v mpicc >/dev/null || {
    echo "mpi.sh: needs mpirun and mpicc (scripts/install-deps.sh installs openmpi-bin and libopenmpi-dev)" >&2
    exit 2
}
if [ -n "$data" ]; then
    [ -r "$data" ] || { echo "mpi.sh: cannot read the corpus '$data' (--data FILE)" >&2; exit 2; }
    data_args=(--data "$data")
elif [ -r "$default_data" ]; then
    data_args=(--data "$default_data")
else # as the e2e tests do: the trainer's default corpus
    echo "mpi.sh: note: $default_data is absent; training on the trainer's default corpus (/usr/share/common-licenses)" >&2
    data_args=()
fi

# name spec B T (bench/run.sh's configs; the corpus gives V)
case "$config" in
RNN-S) spec=specs/rnn.yaml B=32 T=35 ;;
GRU-S) spec=bench/specs/gru.yaml B=32 T=35 ;;
LSTM-S) spec=bench/specs/lstm.yaml B=32 T=35 ;;
GRU-L) spec=bench/specs/gru_l.yaml B=64 T=35 ;;
*) echo "mpi.sh: unknown config '$config' (RNN-S GRU-S LSTM-S GRU-L)" >&2; exit 2 ;;
esac

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DRNNC_NATIVE=ON >/dev/null
cmake --build "$build" -j2 --target rnnc rnnrt >/dev/null
out=$build/mpi
mkdir -p "$out"
name=$(basename "$spec" .yaml)
cflags="-O2 -march=native -std=c11 -D_POSIX_C_SOURCE=200809L -I$root/runtime $(pkg-config --cflags openblas)"
"$build/rnnc" "$spec" -o "$out/$name.c"
mpicc $cflags -DRNNC_MPI -c runtime/train/rnnrt_mpi.c -o "$out/rnnrt_mpi.o"
# shellcheck disable=SC2046,SC2086 # flags are words
mpicc $cflags "$out/$name.c" "$out/rnnrt_mpi.o" -L"$build" -lrnnrt $(pkg-config --libs openblas jansson) \
    -lm -pthread -o "$out/$name"

mpi=(mpirun --bind-to core)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

run() { # run RANKS -> prints train_tok_s
    local np=$1 cmd=("$out/$name")
    [ "$np" -gt 1 ] && cmd=("${mpi[@]}" -np "$np" "$out/$name")
    rm -f "$out/bench.ckpt" "$out/bench.ckpt.prev"
    "${cmd[@]}" train "${data_args[@]}" --batch "$B" --steps "$T" --max-steps "$steps" \
        --threads 1 --sample-len 0 --quiet --ckpt "$out/bench.ckpt" >"$out/run.log" 2>&1 || {
        echo "mpi.sh: the run on $np rank(s) failed:" >&2
        cat "$out/run.log" >&2
        exit 1
    }
    sed -n 's/^RESULT.* train_tok_s=\([0-9.]*\).*/\1/p' "$out/run.log"
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

one=() many=()
for i in $(seq "$repeat"); do
    one+=("$(run 1)")
    many+=("$(run "$ranks")")
    echo "run $i: 1 rank ${one[-1]} tok/s, $ranks ranks ${many[-1]} tok/s"
done
m1=$(printf '%s\n' "${one[@]}" | median)
mn=$(printf '%s\n' "${many[@]}" | median)
echo "config $config (B $B, T $T, $steps steps), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-default}, load $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v a="$m1" -v b="$mn" -v n="$ranks" 'BEGIN {
    printf "median: 1 rank x 1 thread %.0f tok/s, %d ranks x 1 thread %.0f tok/s, ratio %.2fx\n", a, n, b, b / a
    printf "RESULT one_tok_s=%.0f many_tok_s=%.0f mpi_ratio=%.3f\n", a, b, b / a }'
