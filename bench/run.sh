#!/usr/bin/env bash
# run.sh: rnnc next to PyTorch on the canonical configs, in one run.
#
#   bash bench/run.sh [--quick] [--configs "RNN-S GRU-S"] [--threads "1 2"]
#                     [--coretypes "Haswell default"] [--mpi-configs GRU-L]
#                     [--no-readme]
#
# For each config: compiles its spec with rnnc (-O, the default pass list,
# plus $RNNC_BENCH_FLAGS if set, e.g. "--pass gemmfuse"),
# builds bench/bench_lm.c (S2S-ATT: bench/bench_s2s.c) against it
# (librnnrt, OpenBLAS), and runs it and bench/torch_lm.py (S2S-ATT:
# bench/torch_s2s.py; Debian's python3-torch, /usr/bin/python3) one after
# the other with the same thread count (OPENBLAS_NUM_THREADS =
# OMP_NUM_THREADS = torch.set_num_threads = rnnrt_blas_set_threads = N) and
# the same OPENBLAS_CORETYPE ("default" = unset: OpenBLAS picks AVX-512
# where the CPU has it). Both sides: random tokens, a warm-up window,
# median of 7 windows of 1 s (--quick: 5 windows of 0.5 s). rnnc with
# N >= 2 threads runs as the trainer's --threads N does (the batch split
# over N workers, OpenBLAS 1 thread each) and, for comparison, unsplit with
# N OpenBLAS threads (S2S-ATT too: bench_s2s.c splits as the seq2seq
# trainer's --threads N does). For the --mpi-configs (default GRU-L; ""
# none), the N-thread rows also get the trainer's throughput on N MPI ranks
# x 1 thread over 1 rank x 1 thread, as bench/mpi.sh measures it (needs
# mpirun, mpicc and the corpus ../shared/data/timemachine.txt; else "-").
# Writes the table to bench/README.md (between the BEGIN/END RESULTS
# markers) with the machine it ran on, and prints it. Takes about 14
# minutes with everything on.
set -euo pipefail
cd "$(dirname -- "$0")/.."
root=$PWD
build=${RNNC_BENCH_BUILD:-$root/build/bench}
windows=7 seconds=1 readme=1
configs="RNN-S GRU-S LSTM-S GRU-L S2S-ATT"
threads_list="1 2"
coretypes="Haswell default"
mpi_configs=GRU-L
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) windows=5 seconds=0.5; shift ;;
    --configs) configs=$2; shift 2 ;;
    --threads) threads_list=$2; shift 2 ;;
    --coretypes) coretypes=$2; shift 2 ;;
    --mpi-configs) mpi_configs=$2; shift 2 ;;
    --no-readme) readme=0; shift ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

# name spec torch-cell B T V hidden embed (s2s: T = T_src = T_tgt,
# V = V_src = V_tgt; harnesses bench_s2s.c and torch_s2s.py)
config_line() {
    case "$1" in
    RNN-S) echo "specs/rnn.yaml rnn 32 35 28 256 0" ;;
    GRU-S) echo "bench/specs/gru.yaml gru 32 35 28 256 0" ;;
    LSTM-S) echo "bench/specs/lstm.yaml lstm 32 35 28 256 0" ;;
    GRU-L) echo "bench/specs/gru_l.yaml gru 64 35 64 1024 64" ;;
    S2S-ATT) echo "bench/specs/s2s_att.yaml s2s 64 10 2000 256 256" ;;
    *) echo "run.sh: unknown config '$1'" >&2; exit 2 ;;
    esac
}

# -march=native for the runtime, as for the harness below (the default
# build is portable; README "Vector code").
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DRNNC_NATIVE=ON >/dev/null
cmake --build "$build" -j2 --target rnnc rnnrt >/dev/null
out=$build/bench
mkdir -p "$out"
cflags="-O2 -march=native -std=c11 -D_POSIX_C_SOURCE=200809L -I$root/runtime $(pkg-config --cflags openblas)"
libs="-L$build -lrnnrt $(pkg-config --libs openblas jansson) -lm -pthread"

results=$out/results.tsv
: >"$results"
for cfg in $configs; do
    read -r spec cell B T V H E <<<"$(config_line "$cfg")"
    bin=
    if [ "$spec" != - ] && [ -f "$spec" ]; then
        name=$(basename "$spec" .yaml)
        model=$(sed -n 's/^model: *\([A-Za-z0-9_]*\).*/\1/p' "$spec")
        harness=bench/bench_lm.c
        [ "$cell" = s2s ] && harness=bench/bench_s2s.c
        # shellcheck disable=SC2086 # flags are words
        if "$build/rnnc" "$spec" ${RNNC_BENCH_FLAGS:-} -o "$out/$name.c" 2>"$out/$name.rnnc.log"; then
            if cc $cflags -DRNNC_NO_MAIN -c "$out/$name.c" -o "$out/$name.o" 2>"$out/$name.cc.log" &&
                cc $cflags -DBENCH_MODEL="${model}_model" "$harness" "$out/$name.o" \
                    -Wl,--wrap=rnnrt_gemm -Wl,--wrap=rnnrt_gemm_packed $libs -o "$out/bench_$name" 2>>"$out/$name.cc.log"; then
                bin=$out/bench_$name
            else
                echo "run.sh: $cfg: the generated C does not compile (see $out/$name.cc.log)" >&2
            fi
        else
            echo "run.sh: $cfg: rnnc failed on $spec (see $out/$name.rnnc.log)" >&2
        fi
    fi
    for ct in $coretypes; do
        for th in $threads_list; do
            # env takes -u before the assignments (after them it is a command)
            envs=(env)
            [ "$ct" = default ] && envs+=(-u OPENBLAS_CORETYPE) || envs+=(OPENBLAS_CORETYPE="$ct")
            envs+=(OPENBLAS_NUM_THREADS="$th" OMP_NUM_THREADS="$th")
            r=; t=
            if [ -n "$bin" ]; then
                r=$("${envs[@]}" "$bin" --B "$B" --T "$T" --V "$V" --threads "$th" \
                    --windows "$windows" --seconds "$seconds" 2>/dev/null | tr '\n' ' ')
            fi
            if [ "$cell" = s2s ]; then
                t=$("${envs[@]}" /usr/bin/python3 bench/torch_s2s.py --B "$B" --T "$T" --V "$V" \
                    --hidden "$H" --embed "$E" --threads "$th" --windows "$windows" \
                    --seconds "$seconds" | tr '\n' ' ')
            else
                t=$("${envs[@]}" /usr/bin/python3 bench/torch_lm.py --cell "$cell" --B "$B" --T "$T" \
                    --V "$V" --hidden "$H" --embed "$E" --threads "$th" --windows "$windows" \
                    --seconds "$seconds" | tr '\n' ' ')
            fi
            if [ "$th" -ge 2 ] && [[ " $mpi_configs " == *" $cfg "* ]]; then
                # the same global batch on th ranks x 1 thread over 1 x 1
                m=$("${envs[@]}" bash bench/mpi.sh --config "$cfg" --ranks "$th" \
                    2>"$out/mpi_$cfg.log" | tee -a "$out/mpi_$cfg.log" | sed -n 's/^RESULT //p') ||
                    m=
                [ -n "$m" ] || echo "run.sh: $cfg: no MPI measurement (see $out/mpi_$cfg.log)" >&2
                r="$r $m"
            fi
            printf '%s\t%s\t%s\t%s\t%s\n' "$cfg" "$ct" "$th" "$r" "$t" | tee -a "$results"
        done
    done
done

/usr/bin/python3 bench/table.py "$results" $([ $readme = 1 ] && echo bench/README.md)
