#!/usr/bin/env bash
# interrupt.sh TRAINER S2S_TOOL WORKDIR: SIGINT (SIGTERM) while the seq2seq
# trainer trains saves a checkpoint atomically and exits 130 (143); no
# temporary file is left; the checkpoint evaluates, translates and
# resumes, and interrupted + resumed == straight, byte for byte. SIGINT
# during the final decoding of the held-out pairs stops it (130) with the
# checkpoint already saved.
set -euo pipefail
E2E_NAME=s2s_interrupt
. "$(dirname -- "$0")/../e2e/lib.sh"
[ $# -eq 3 ] || { echo "usage: $0 TRAINER S2S_TOOL WORKDIR" >&2; exit 2; }
trainer=$1 tool=$2 work=$3
fresh_dir "$work"
"$tool" toy reverse 2000 8 3 6 1 >"$work/pairs.txt"
# Job control on: otherwise bash starts background jobs with SIGINT ignored.
set -m

interrupt() { # SIGNAL EXPECTED_EXIT
    local sig=$1 want=$2 dir=$work/$1
    mkdir -p "$dir"
    "$trainer" train "$work/pairs.txt" --epochs 100000 --max-seconds 30 --eval-max 20 \
        --ckpt "$dir/model.ckpt" >"$dir/train.log" 2>&1 &
    local pid=$! i
    for i in $(seq 50); do # until an epoch ended (and saved), or 5 s
        grep -q '^epoch ' "$dir/train.log" && break
        sleep 0.1
    done
    sleep 0.2
    kill -0 "$pid" 2>/dev/null || { cat "$dir/train.log"; fail "the trainer ended before SIG$sig"; }
    kill -s "$sig" "$pid"
    local rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq "$want" ] || { cat "$dir/train.log"; fail "after SIG$sig the trainer exited $rc, expected $want"; }
    grep -q "interrupted: checkpoint saved to '$dir/model.ckpt'" "$dir/train.log" ||
        fail "no 'interrupted: checkpoint saved' after SIG$sig"
    [ -s "$dir/model.ckpt" ] || fail "no checkpoint after SIG$sig"
    local left
    left=$(find "$dir" -name '*.tmp*')
    [ -z "$left" ] || fail "temporary files left after SIG$sig: $left"
    must "eval of the checkpoint saved on SIG$sig" "$dir/eval.log" \
        "$trainer" eval "$work/pairs.txt" --model "$dir/model.ckpt" --eval-max 20 --beam 1
    grep -q '^greedy: corpus BLEU-4' "$dir/eval.log" || fail "eval printed no BLEU"
    echo "a b c" | "$trainer" translate --model "$dir/model.ckpt" >"$dir/tr.txt" 2>&1 ||
        fail "translate with the checkpoint saved on SIG$sig failed"
    must "resume after SIG$sig" "$dir/resume.log" \
        "$trainer" train "$work/pairs.txt" --epochs 100000 --max-steps 3 --eval-max 0 --ckpt "$dir/model.ckpt" --resume
    say "ok: SIG$sig -> exit $rc, checkpoint evaluates, translates and resumes"
}

interrupt INT 130
interrupt TERM 143

"$tool" toy reverse 100000 8 3 6 1 >"$work/big.txt"

# SIGINT in the middle of 6 epochs, resumed to 6 == 6 straight.
dir=$work/exact
mkdir -p "$dir"
run() { "$trainer" train "$work/big.txt" --max-pairs 3000 --epochs 6 --eval-max 0 --beam 1 "$@"; }
"$trainer" train "$work/big.txt" --max-pairs 3000 --epochs 6 --eval-max 0 --beam 1 --ckpt "$dir/cut.ckpt" \
    >"$dir/cut.log" 2>&1 & # not through run(): the signal must reach the trainer
pid=$!
for i in $(seq 100); do
    grep -q '^epoch ' "$dir/cut.log" && break
    sleep 0.05
done
kill -s INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 130 ] || { cat "$dir/cut.log"; fail "SIGINT during 6 epochs: exit $rc, expected 130"; }
must "resume after SIGINT" "$dir/resume.log" run --ckpt "$dir/cut.ckpt" --resume
must "6 epochs straight" "$dir/straight.log" run --ckpt "$dir/straight.ckpt"
cmp "$dir/cut.ckpt" "$dir/straight.ckpt" || fail "interrupted + resumed differs from straight"
say "ok: $(sed -n "s/.*interrupted: checkpoint saved to '.*' (\(.*\)).*/\1/p" "$dir/cut.log"): interrupted + resumed == straight"

# After training (5 steps), while 10000 held-out pairs are decoded (greedy
# and beam take seconds; the signal goes as soon as the checkpoint is saved).
dir=$work/eval
mkdir -p "$dir"
"$trainer" train "$work/big.txt" --max-steps 5 --ckpt "$dir/model.ckpt" >"$dir/train.log" 2>&1 &
pid=$!
for i in $(seq 400); do
    grep -q '^saved ' "$dir/train.log" && break
    sleep 0.02
done
kill -0 "$pid" 2>/dev/null || { cat "$dir/train.log"; fail "the trainer ended before it was interrupted"; }
kill -s INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 130 ] || { cat "$dir/train.log"; fail "SIGINT during the final decoding: exit $rc, expected 130"; }
grep -q "interrupted during the final evaluation; the checkpoint '$dir/model.ckpt' is saved" "$dir/train.log" ||
    fail "no note after SIGINT during the final decoding"
must "eval of the checkpoint" "$dir/eval.log" "$trainer" eval "$work/big.txt" --model "$dir/model.ckpt" --eval-max 5
say "ok: SIGINT during the final decoding -> exit 130, checkpoint saved"
