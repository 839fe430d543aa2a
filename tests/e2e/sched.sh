#!/usr/bin/env bash
# sched.sh TRAINER WORKDIR
#
# Learning-rate schedules, the best checkpoint and early stopping in the
# language-model trainer (issue 13), on a text of random letters whose
# validation loss soon stops improving:
#   1. a plateau schedule with warm-up, weight decay and --early-stop 4
#      stops before --epochs with exit 0 and a note; the lr printed on the
#      epoch lines follows ReduceLROnPlateau's rule on the printed losses;
#      the run stopped exactly when 4 evaluations in a row did not improve;
#   2. X.best holds the best epoch: eval of it gives the lowest val_ppl
#      printed, eval of X the last one;
#   3. the same run stopped every 70 steps and resumed gives the same
#      epoch lines and byte-identical X and X.best, also when it is
#      resumed without the schedule's options (the checkpoint keeps them);
#      a --resume after the early stop stops again at once, leaving both
#      files as they were; --lr-factor given on --resume applies with a note;
#   4. --eval-every 2 validates every 2nd epoch and the last;
#   5. bad values are usage errors naming the option.
set -euo pipefail
E2E_NAME=sched
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 2 ] || { echo "usage: $0 TRAINER WORKDIR" >&2; exit 2; }
trainer=$1 work=$2
fresh_dir "$work"
awk 'BEGIN { srand(3); for (i = 0; i < 300; i++) { s = ""
    for (j = 0; j < 40; j++) s = s sprintf("%c", 97 + int(rand() * rand() * 26)); print s } }' \
    >"$work/text.txt"
patience=1 factor=0.5
base=("$trainer" train --data "$work/text.txt" --threads 1 --quiet --sample-len 0
    --optimizer adam --batch 8 --steps 16 --epochs 30)
# lr 0.005: the loss settles on the text's entropy (val_ppl about 19.5)
# within a few epochs; at 0.03 Adam's steps were chaotic and the run
# diverged with some BLAS kernels (OPENBLAS_CORETYPE=Haswell) but not others.
train=("${base[@]}" --lr 0.005 --lr-schedule plateau --lr-patience $patience --lr-factor $factor
    --warmup-steps 20 --weight-decay 0.01 --early-stop 4)

# 1. The straight run.
must "straight run" "$work/a.log" "${train[@]}" --ckpt "$work/a.ckpt"
grep -q "early stop: no better validation loss in 4 evaluations" "$work/a.log" ||
    { cat "$work/a.log" >&2; fail "no early stop before epoch 30 (the text was meant to plateau)"; }
[ -f "$work/a.ckpt.best" ] || fail "no best checkpoint a.ckpt.best"
grep '^epoch ' "$work/a.log" >"$work/a.epochs"
# Replays the rules on the printed lines: ReduceLROnPlateau (mode min,
# threshold 1e-4 rel) gives each epoch's lr from the ones before; the
# early stop comes after the first 4 evaluations in a row without a new best.
awk -v p=$patience -v f=$factor '
    { loss = log($6); lr = $8
      if (NR == 1) { want = lr; best = 1e300; bad = 0; vbest = 1e300; vbad = 0 }
      if (lr + 0 != want + 0) { printf "epoch %d: lr %s, ReduceLROnPlateau gives %.6g\n", NR, lr, want; exit 1 }
      if (stopped) { printf "epoch %d trained after the early stop was due\n", NR; exit 1 }
      if (loss < best * (1 - 1e-4)) { best = loss; bad = 0 } else if (++bad > p) { want = want * f; bad = 0 }
      want = sprintf("%.6g", want)
      if (loss < vbest) { vbest = loss; vbad = 0 } else if (++vbad >= 4) stopped = 1 }
    END { if (!stopped) { print "the run stopped before 4 evaluations without a new best"; exit 1 } }' \
    "$work/a.epochs" >"$work/rules.txt" || { cat "$work/a.log" >&2; fail "$(cat "$work/rules.txt")"; }
cuts=$(awk '{ print $8 }' "$work/a.epochs" | uniq | wc -l)
say "ok: stopped early after $(wc -l <"$work/a.epochs") epochs, lr took $cuts values, as ReduceLROnPlateau's rule says"

# 2. The best checkpoint is the best epoch's.
best_ppl=$(awk '{ print $6 }' "$work/a.epochs" | sort -g | head -n 1)
last_ppl=$(awk '{ v = $6 } END { print v }' "$work/a.epochs")
must "eval of the best" "$work/eval_best.log" "$trainer" eval --data "$work/text.txt" --threads 1 --ckpt "$work/a.ckpt.best"
must "eval of the last" "$work/eval_last.log" "$trainer" eval --data "$work/text.txt" --threads 1 --ckpt "$work/a.ckpt"
got_best=$(field val_ppl "$work/eval_best.log") got_last=$(field val_ppl "$work/eval_last.log")
[ "$got_best" = "$best_ppl" ] || fail "eval of a.ckpt.best gives val_ppl $got_best, the best epoch printed $best_ppl"
[ "$got_last" = "$last_ppl" ] || fail "eval of a.ckpt gives val_ppl $got_last, the last epoch printed $last_ppl"
fcmp "$best_ppl < $last_ppl" || fail "the best ($best_ppl) is not better than the last ($last_ppl)"
say "ok: a.ckpt.best evaluates to the best epoch's val_ppl $best_ppl, a.ckpt to the last's $last_ppl"

# 3. Stopped every 70 steps and resumed without the schedule's options
#    (the checkpoint keeps them): the same run, byte for byte.
must "first part" "$work/b.log" "${train[@]}" --ckpt "$work/b.ckpt" --max-steps 70
for i in $(seq 1 60); do
    grep -q "early stop" "$work/b.log" && break
    must "resume $i" "$work/b$i.log" "${base[@]}" --ckpt "$work/b.ckpt" --max-steps 70 --resume
    cat "$work/b$i.log" >>"$work/b.log"
done
grep '^epoch ' "$work/b.log" | diff "$work/a.epochs" - >&2 ||
    fail "the resumed run's epoch lines differ from the straight run's"
cmp "$work/a.ckpt" "$work/b.ckpt" || fail "the resumed run's checkpoint differs from the straight run's"
cmp "$work/a.ckpt.best" "$work/b.ckpt.best" || fail "the resumed run's best checkpoint differs"
say "ok: stopped every 70 steps and resumed $i times: the same epochs, checkpoint and best checkpoint"
cp "$work/b.ckpt" "$work/before.ckpt"
must "resume after the early stop" "$work/c.log" "${train[@]}" --ckpt "$work/b.ckpt" --resume
grep -q "early stop" "$work/c.log" || fail "a resume after the early stop trained on"
! grep -q '^epoch ' "$work/c.log" || fail "a resume after the early stop trained an epoch"
cmp "$work/before.ckpt" "$work/b.ckpt" || fail "a resume after the early stop changed the checkpoint"
say "ok: a resume after the early stop stops at once"
must "--lr-factor on --resume" "$work/n.log" "${base[@]}" --ckpt "$work/before.ckpt" --resume \
    --early-stop 0 --epochs 31 --lr-factor 0.25
grep -q "note: --lr-factor 0.25 replaces the checkpoint's 0.5" "$work/n.log" ||
    { cat "$work/n.log" >&2; fail "no note for --lr-factor on --resume"; }
say "ok: $(grep -o 'note: --lr-factor.*' "$work/n.log")"

# 4. --eval-every 2 validates epochs 2, 4 and the last.
must "--eval-every 2" "$work/e.log" "${base[@]}" --lr 0.01 --epochs 5 --eval-every 2 --ckpt "$work/e.ckpt"
got=$(awk '$1 == "epoch" { printf "%s ", $2 }' "$work/e.log")
[ "$got" = "2 4 5 " ] || fail "--eval-every 2 --epochs 5 validated epochs '$got', expected '2 4 5 '"
say "ok: --eval-every 2 validates epochs $got"

# 5. Bad values.
for bad in "--lr-schedule exponential:--lr-schedule must be" "--lr-patience 0:--lr-patience" \
    "--lr-factor -0.5:--lr-factor" "--lr-factor 1:--lr-factor" "--weight-decay -1:--weight-decay" \
    "--early-stop -1:--early-stop" "--eval-every 0:--eval-every"; do
    opt=${bad%%:*} msg=${bad#*:}
    rc=0
    # shellcheck disable=SC2086
    "${train[@]}" --ckpt "$work/bad.ckpt" $opt >"$work/bad.log" 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || { cat "$work/bad.log" >&2; fail "$opt: exit $rc, expected 2"; }
    grep -qe "$msg" "$work/bad.log" || { cat "$work/bad.log" >&2; fail "$opt: no message naming $msg"; }
done
[ ! -e "$work/bad.ckpt" ] || fail "a refused run wrote a checkpoint"
say "ok: bad schedule values are usage errors naming the option"
