#!/usr/bin/env bash
# resume_converged.sh lm TRAINER WORKDIR
# resume_converged.sh s2s TRAINER S2S_TOOL WORKDIR
#
# The divergence guard on a converged model (issue 17, RELIABILITY G6): a
# model trained until its loss is small and noisy is resumed 20 times, a
# few steps each, with the default --max-loss-ratio. The guard's reference
# is the training's first loss, kept in the checkpoint, so no resume may
# stop with exit 4. Judged against each resumed run's own first loss (the
# old rule), a noisy minibatch of a converged model trips it.
#
# The language model trains on a text of one repeated sentence with a rare
# random line (made here, seeded), so its loss is tiny on most minibatches
# and large on the few with a random line: the case the issue reported.
set -euo pipefail
E2E_NAME=resume_converged_$1
. "$(dirname -- "$0")/lib.sh"
kind=$1
shift
case $kind in
lm)
    [ $# -eq 2 ] || { echo "usage: $0 lm TRAINER WORKDIR" >&2; exit 2; }
    trainer=$1 work=$2
    fresh_dir "$work"
    awk 'BEGIN {
        srand(7)
        for (i = 0; i < 1500; i++) {
            if (i % 40 == 39) {             # a rare line of random letters
                s = ""
                for (j = 0; j < 30; j++) s = s sprintf("%c", 97 + int(rand() * 26))
                print s
            } else
                print "the time traveller was expounding a recondite matter to us"
        }
    }' >"$work/text.txt"
    train=("$trainer" train --data "$work/text.txt" --threads 1 --quiet --sample-len 0
        --ckpt "$work/model.ckpt")
    must "training to convergence" "$work/train.log" "${train[@]}" --epochs 6 --lr 1 --clip 1
    resume() { "${train[@]}" --epochs 100 --max-steps 4 --resume; }
    small=0.5 # ln(V) is about 3
    ;;
s2s)
    [ $# -eq 3 ] || { echo "usage: $0 s2s TRAINER S2S_TOOL WORKDIR" >&2; exit 2; }
    trainer=$1 tool=$2 work=$3
    fresh_dir "$work"
    "$tool" toy reverse 3000 8 3 6 1 >"$work/pairs.txt"
    train=("$trainer" train "$work/pairs.txt" --eval-max 0 --beam 1 --quiet --ckpt "$work/model.ckpt")
    must "training to convergence" "$work/train.log" "${train[@]}" --epochs 12
    resume() { "${train[@]}" --epochs 1000 --max-steps 4 --resume; }
    small=0.3
    ;;
*)
    echo "usage: $0 lm|s2s ..." >&2
    exit 2
    ;;
esac

last=$(losses "$work/train.log" | tail -n 1)
say "trained: last epoch's loss $last"
[ -n "$last" ] && fcmp "$last < $small" || fail "the model did not converge (loss $last, wanted < $small)"

for i in $(seq 20); do
    rc=0
    resume >"$work/resume$i.log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$work/resume$i.log" >&2
        fail "resume $i of a converged model exited $rc"
    fi
done
say "ok: 20 resumes of a converged model, none stopped by the guard"
