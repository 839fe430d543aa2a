# lib.sh: shared helpers for the end-to-end tests (sourced, not run).
#
# Every e2e script gets the trainer, the data file it would like and a work
# directory. The corpus is not part of the repository: the tests read
# ../shared/data/timemachine.txt when it exists and otherwise fall back to the
# trainer's default corpus (the Debian license texts), saying so.

say() { printf '%s: %s\n' "${E2E_NAME:-e2e}" "$*"; }
fail() { printf '%s: FAIL: %s\n' "${E2E_NAME:-e2e}" "$*" >&2; exit 1; }

# Deterministic and polite to ctest -j2: one BLAS thread per trainer.
export OPENBLAS_NUM_THREADS=1

# pick_data PATH: sets the array DATA to (--data PATH), or to () with a note.
pick_data() {
    if [ -r "$1" ]; then
        DATA=(--data "$1")
        say "data: $1"
    else
        DATA=()
        say "note: $1 is absent; falling back to the trainer's default corpus (/usr/share/common-licenses)"
    fi
}

# fresh_dir DIR: an empty work directory.
fresh_dir() {
    rm -rf -- "$1"
    mkdir -p -- "$1"
}

# losses LOG: every training loss the trainer printed, one per line, in
# order. Progress lines may be redrawn with \r, so split on those too. Matches
# "loss 2.31", "loss=2.31", "loss: 2.31" and "train_loss 2.31", not
# "val_loss".
losses() {
    tr '\r' '\n' <"$1" |
        grep -oE '(^|[ ,;(])(train_)?loss[ =:]+[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?' |
        grep -oE '[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$' || true
}

# field NAME LOG: the value of NAME=VALUE on the last RESULT line of LOG, or,
# when there is no RESULT line (eval), on the last line that has it. Empty
# when absent; never fails.
field() {
    awk -v key="$1=" '
        { for (i = 1; i <= NF; i++)
              if (index($i, key) == 1) {
                  v = substr($i, length(key) + 1)
                  if ($1 == "RESULT") result = v; else other = v
              } }
        END { print (result != "" ? result : other) }' "$2"
}

# must WHAT LOG CMD...: run CMD with its stdout and stderr in LOG; if it
# fails, print LOG and fail with its exit status.
must() {
    local what=$1 log=$2 rc=0
    shift 2
    "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$log" >&2
        fail "$what failed (exit $rc): $*"
    fi
}

# no_tmp DIR WHAT: no temporary file of a save (*.tmp*) is left in DIR.
no_tmp() {
    local left
    left=$(find "$1" -name '*.tmp*' | head -n 3)
    [ -z "$left" ] || fail "$2: temporary files left: $left"
}

# fcmp "EXPR": evaluate a floating-point comparison with awk; status 0 if true.
fcmp() { awk "BEGIN { exit !($1) }"; }

# expect_refusal WHAT LOGFILE CMD...: CMD must exit nonzero (but not by a
# signal, i.e. < 128) and print a message on stderr.
expect_refusal() {
    local what=$1 log=$2
    shift 2
    local rc=0
    "$@" >"$log.out" 2>"$log" || rc=$?
    if [ "$rc" -eq 0 ]; then
        fail "$what: accepted (exit 0); it must be refused"
    elif [ "$rc" -ge 128 ]; then
        cat "$log" >&2
        fail "$what: crashed (exit $rc, signal $((rc - 128)))"
    elif [ ! -s "$log" ]; then
        fail "$what: refused with exit $rc but printed no message on stderr"
    fi
    say "ok: $what: refused with exit $rc: $(head -n 1 "$log")"
}

# loss_ratio_switch WORK TRAIN_CMD...: the two sides of --max-loss-ratio that
# both trainers share (diverge.sh, s2s/diverge.sh). TRAIN_CMD is a training
# command whose loss explodes; with --max-loss-ratio 0 appended it must not
# stop on the ratio (it may still end on the non-finite check: exit 0 or 4);
# with 0.5 it is a usage error with a message.
loss_ratio_switch() {
    local work=$1 rc=0
    shift
    "$@" --max-loss-ratio 0 --ckpt "$work/off.ckpt" >"$work/off.out" 2>"$work/off.err" || rc=$?
    grep -q "first loss" "$work/off.err" && fail "--max-loss-ratio 0 still stopped on the ratio"
    [ "$rc" -eq 0 ] || [ "$rc" -eq 4 ] || fail "--max-loss-ratio 0: exit $rc"
    say "ok: --max-loss-ratio 0 turns the check off (exit $rc)"
    expect_refusal "--max-loss-ratio 0.5" "$work/usage.err" "$@" --max-loss-ratio 0.5 --ckpt "$work/usage.ckpt"
    grep -q -- "--max-loss-ratio must be" "$work/usage.err" || fail "no usage message for --max-loss-ratio 0.5"
    say "ok: --max-loss-ratio 0.5 is refused"
}

# mpi_setup RNNC_MPI WORKDIR: sets the array MPI to the mpirun command and
# the flags this one needs, or exits 77 (skipped) when the trainers are
# built without MPI or mpirun is absent. As root, Open MPI refuses to start
# without --allow-run-as-root; --oversubscribe lets 2 ranks run on fewer
# free slots.
mpi_setup() {
    case $1 in
        ON|on|1|TRUE|true|YES|yes) ;;
        *) say "skipped: the trainers are built without MPI (-DRNNC_MPI=OFF)"; exit 77 ;;
    esac
    command -v mpirun >/dev/null 2>&1 ||
        { say "skipped: mpirun is not installed (scripts/install-deps.sh installs openmpi-bin)"; exit 77; }
    MPI=(mpirun)
    [ "$(id -u)" -ne 0 ] || MPI+=(--allow-run-as-root)
    if "${MPI[@]}" --oversubscribe -np 1 true >/dev/null 2>&1; then
        MPI+=(--oversubscribe)
    fi
    "${MPI[@]}" -np 2 true >"$2/mpi_probe.log" 2>&1 ||
        { cat "$2/mpi_probe.log"; fail "'${MPI[*]} -np 2 true' does not run"; }
    say "mpirun: ${MPI[*]}"
}

# mpi_rank_pid PATTERN R: the pid of MPI rank R among the processes whose
# command line has PATTERN (mpirun's own environment has no rank).
mpi_rank_pid() {
    local pid
    for pid in $(pgrep -f -- "$1" || true); do
        tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null |
            grep -qx "OMPI_COMM_WORLD_RANK=$2" && { echo "$pid"; return 0; }
    done
    return 1
}

# mpi_start CKPT LOG CMD...: CMD, an MPI training run that saves CKPT every
# few steps (--save-every) and runs far longer than the test, in the
# background with its output in LOG (its pid in $job); returns once CKPT is
# there: every rank is then past its start and training. No clock decides
# anything but the 240 s give-up (a hang guard, not a measurement).
mpi_start() {
    local ckpt=$1 log=$2
    shift 2
    "$@" >"$log" 2>&1 &
    job=$!
    for _ in $(seq 2400); do
        [ -s "$ckpt" ] && return 0
        kill -0 "$job" 2>/dev/null ||
            { cat "$log" >&2; fail "the MPI run saving $ckpt ended before its first save"; }
        sleep 0.1
    done
    kill "$job" 2>/dev/null || true
    fail "no checkpoint $ckpt from the MPI run after 240 s"
}

# mpi_interrupt SIG RANK EXIT CKPT LOG CMD...: SIG to rank RANK of the MPI
# run CMD (mpi_start) stops every rank at one step boundary: mpirun exits
# EXIT (130 SIGINT, 143 SIGTERM), LOG has one "interrupted: checkpoint
# saved" line (rank 0's), and no temporary file is left next to CKPT. The
# caller then checks that CKPT loads and resumes.
mpi_interrupt() {
    local sig=$1 r=$2 want=$3 ckpt=$4 log=$5 pid rc=0 saves
    shift 5
    mpi_start "$ckpt" "$log" "$@"
    pid=$(mpi_rank_pid "$ckpt" "$r") || { kill "$job"; fail "no process of rank $r found"; }
    kill -s "$sig" "$pid"
    wait "$job" || rc=$?
    [ "$rc" -eq "$want" ] ||
        { cat "$log" >&2; fail "after SIG$sig to rank $r mpirun exited $rc, expected $want"; }
    saves=$(grep -c 'interrupted: checkpoint saved' "$log" || true)
    [ "$saves" -eq 1 ] ||
        { cat "$log" >&2; fail "$saves 'interrupted: checkpoint saved' lines after SIG$sig to rank $r, expected 1 (rank 0's)"; }
    no_tmp "$(dirname -- "$ckpt")" "SIG$sig to rank $r"
}

# mpi_dead RANK CKPT LOG CMD...: rank RANK of the MPI run CMD (mpi_start)
# killed with SIGKILL makes mpirun end the job rather than leave the other
# ranks waiting in a collective forever (ctest's timeout is the hang
# guard): a nonzero exit, no rank left running, and mpirun's message that
# rank RANK died of signal 9.
mpi_dead() {
    local r=$1 ckpt=$2 log=$3 pid rc=0 q
    shift 3
    mpi_start "$ckpt" "$log" "$@"
    pid=$(mpi_rank_pid "$ckpt" "$r") || { kill "$job"; fail "no process of rank $r found"; }
    kill -s KILL "$pid"
    wait "$job" || rc=$?
    [ "$rc" -ne 0 ] || fail "mpirun exited 0 after rank $r was killed"
    for q in 0 1; do
        ! mpi_rank_pid "$ckpt" "$q" >/dev/null ||
            fail "rank $q is still running after rank $r was killed and mpirun ended"
    done
    grep -q -E "rank $r .*signal 9" "$log" ||
        { cat "$log" >&2; fail "mpirun's output does not say that rank $r was killed"; }
    say "ok: rank $r killed -> mpirun ends the job (exit $rc): $(grep -m1 -E "rank $r .*signal 9" "$log")"
}

# step_losses JSONL: the loss of every "train" record of a --metrics file,
# one per line (with --metrics-every 1: every step's).
step_losses() {
    grep '"kind":"train"' "$1" | sed -E 's/.*"loss":([^,]*),.*/\1/'
}

# same_step_losses A.jsonl B.jsonl TOL: the two runs' per-step losses agree
# within TOL (relative), step for step, and there are as many; prints the
# largest difference seen.
same_step_losses() {
    local worst
    worst=$(paste <(step_losses "$1") <(step_losses "$2") | awk -v tol="$3" '
        NF != 2 || $1 == "null" || $2 == "null" { bad = 1; exit }
        { d = $1 - $2; if (d < 0) d = -d; s = $1 < 0 ? -$1 : $1
          r = s > 0 ? d / s : d; if (r > w) w = r; n++ }
        END { if (bad || n == 0 || w > tol) exit 1; printf "%.3g over %d steps", w, n }') ||
        fail "the per-step losses of $1 and $2 differ by more than $3 (or their steps differ)"
    echo "$worst"
}
