#!/usr/bin/env bash
# double_signal.sh lm TRAINER WORKDIR
# double_signal.sh s2s TRAINER S2S_TOOL WORKDIR
#
# A second SIGINT/SIGTERM during a checkpoint save (issue 17, RELIABILITY
# D3) removes the temporary file and exits 75 (RNNRT_EXIT_ABORTED), not the
# 130/143 that promise a clean save; the previous checkpoint stays byte for
# byte. Deterministic, no timing: RNNRT_TEST_STOP_IN_SAVE makes the save
# raise both signals itself once its bytes are in the tmp file, before the
# rename. Also the checkpoint path refusals every trainer shares: `--ckpt -`
# is a usage error (2), a directory an I/O error naming it (3, no --force).
set -euo pipefail
E2E_NAME=double_signal_$1
. "$(dirname -- "$0")/lib.sh"
kind=$1
shift
case $kind in
lm)
    [ $# -eq 2 ] || { echo "usage: $0 lm TRAINER WORKDIR" >&2; exit 2; }
    trainer=$1 work=$2
    fresh_dir "$work"
    awk 'BEGIN { for (i = 0; i < 300; i++) print "the quick brown fox jumps over the lazy dog" }' >"$work/text.txt"
    train=("$trainer" train --data "$work/text.txt" --batch 4 --steps 8 --threads 1 --quiet --sample-len 0)
    evaluate=("$trainer" eval --data "$work/text.txt" --ckpt)
    ;;
s2s)
    [ $# -eq 3 ] || { echo "usage: $0 s2s TRAINER S2S_TOOL WORKDIR" >&2; exit 2; }
    trainer=$1 tool=$2 work=$3
    fresh_dir "$work"
    "$tool" toy reverse 200 8 3 6 1 >"$work/pairs.txt"
    train=("$trainer" train "$work/pairs.txt" --eval-max 0 --beam 1 --quiet)
    evaluate=("$trainer" eval "$work/pairs.txt" --eval-max 4 --model)
    ;;
*)
    echo "usage: $0 lm|s2s ..." >&2
    exit 2
    ;;
esac
cd "$work"

# stopped_in_save SIGNAL_NAME LOG CMD...: CMD (a training run that saves)
# must exit 75 with a message and leave no tmp file.
stopped_in_save() {
    local sig=$1 log=$2 rc=0
    shift 2
    RNNRT_TEST_STOP_IN_SAVE=$sig "$@" >"$log" 2>&1 || rc=$?
    [ "$rc" -eq 75 ] || { cat "$log" >&2; fail "a second SIG$sig during a save: exit $rc, expected 75"; }
    grep -q "interrupted again" "$log" || { cat "$log" >&2; fail "no message after the second SIG$sig"; }
    no_tmp "$work" "a second SIG$sig during a save"
}

# A checkpoint to keep, then a resumed run whose first save is cut short.
must "training the first checkpoint" "$work/first.log" "${train[@]}" --epochs 1 --max-steps 2 --ckpt model.ckpt
[ -s model.ckpt ] || fail "no checkpoint after the first run"
cp model.ckpt before.ckpt
stopped_in_save INT "$work/int.log" "${train[@]}" --epochs 2 --max-steps 3 --save-every 1 --resume --ckpt model.ckpt
cmp -s model.ckpt before.ckpt || fail "the previous checkpoint changed under a second SIGINT"
must "eval of the checkpoint kept" "$work/eval.log" "${evaluate[@]}" model.ckpt
say "ok: second SIGINT during a save: exit 75, no tmp file, the previous checkpoint byte-identical and loadable"

# A fresh run with no checkpoint yet: nothing is left at all.
stopped_in_save TERM "$work/term.log" "${train[@]}" --epochs 1 --max-steps 2 --ckpt fresh.ckpt
[ ! -e fresh.ckpt ] || fail "a checkpoint was left by a run stopped in its first save"
say "ok: second SIGTERM during the first save: exit 75, no checkpoint, no tmp file"

# --ckpt -: a usage error; a directory: an I/O error naming it
rc=0
"${train[@]}" --epochs 1 --max-steps 1 --ckpt - >dash.out 2>dash.err || rc=$?
[ "$rc" -eq 2 ] || { cat dash.err >&2; fail "--ckpt -: exit $rc, expected 2"; }
[ ! -e ./- ] || fail "--ckpt - created a file named '-'"
say "ok: --ckpt - is a usage error: $(head -n 1 dash.err)"
mkdir -p adir
rc=0
"${train[@]}" --epochs 1 --max-steps 1 --ckpt adir >dir.out 2>dir.err || rc=$?
[ "$rc" -eq 3 ] || { cat dir.err >&2; fail "--ckpt DIRECTORY: exit $rc, expected 3"; }
grep -q "'adir'" dir.err || { cat dir.err >&2; fail "--ckpt DIRECTORY: the message does not name it"; }
grep -q -- "--force" dir.err && fail "--ckpt DIRECTORY hints at --force"
say "ok: --ckpt DIRECTORY is an I/O error: $(head -n 1 dir.err)"
