#!/usr/bin/env bash
# interrupt.sh TRAINER DATA WORKDIR [THREADS]: SIGINT (and SIGTERM)
# mid-training must save a checkpoint atomically and exit 130 (143); the
# checkpoint must load, and no temporary file may be left behind. THREADS
# (default 1) is the trainer's --threads: 2 splits the batch over worker
# threads, which must not take the signal from the polling thread.
set -euo pipefail
E2E_NAME=interrupt
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 3 ] || [ $# -eq 4 ] || { echo "usage: $0 TRAINER DATA WORKDIR [THREADS]" >&2; exit 2; }
trainer=$1 work=$3 threads=${4:-1}
pick_data "$2"
fresh_dir "$work"

# Job control on: without it, bash starts background jobs with SIGINT
# ignored, and a trainer that respects an inherited SIG_IGN would never see it.
set -m

# interrupt SIGNAL EXPECTED_EXIT
interrupt() {
    local sig=$1 want=$2 dir=$work/$1
    mkdir -p "$dir"
    "$trainer" train "${DATA[@]}" --epochs 1000 --max-seconds 60 --threads "$threads" \
        --ckpt "$dir/model.ckpt" >"$dir/train.log" 2>&1 &
    local pid=$!
    # Wait until it is really training: a loss was printed, or 3 s passed.
    local i
    for i in $(seq 30); do
        [ -n "$(losses "$dir/train.log")" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    sleep 0.5
    kill -0 "$pid" 2>/dev/null || { cat "$dir/train.log"; fail "the trainer ended before it was sent SIG$sig"; }
    kill -s "$sig" "$pid"
    local rc=0 t0=$SECONDS
    wait "$pid" || rc=$?
    tr '\r' '\n' <"$dir/train.log" | grep -v '^$' | tail -n 4
    [ "$rc" -eq "$want" ] || fail "after SIG$sig the trainer exited $rc, expected $want"
    say "ok: SIG$sig -> exit $rc after $((SECONDS - t0)) s"
    # A trainer killed by the signal (no handler) also reads as 128+N here;
    # the checkpoint is what tells a clean stop from a death.
    [ -s "$dir/model.ckpt" ] || fail "no checkpoint at $dir/model.ckpt after SIG$sig"
    local left
    left=$(find "$dir" -name '*.tmp*' | head -n 3)
    [ -z "$left" ] || fail "temporary files left after SIG$sig: $left"
    must "eval of the checkpoint saved on SIG$sig" "$dir/eval.log" \
        "$trainer" eval "${DATA[@]}" --ckpt "$dir/model.ckpt"
    say "ok: the checkpoint saved on SIG$sig loads: $(grep -m1 -E 'val_ppl' "$dir/eval.log" || head -n 1 "$dir/eval.log")"
}

interrupt INT 130
interrupt TERM 143
