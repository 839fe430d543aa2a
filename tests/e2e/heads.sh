#!/usr/bin/env bash
# heads.sh labelling|classification TRAINER RNNC SRC WORKDIR: the task heads
# end to end on self-made data (tests/e2e/heads_data.awk).
#   labelling       the tagger learns "inside parentheses or not" to >= 95%
#                   validation accuracy; eval reproduces it from the
#                   checkpoint; so does examples/tagger_bidirectional.yaml,
#                   at least as well as the tagger; sample is refused; a
#                   checkpoint of the old format RNNTASK1 is refused by
#                   name; bad data lines are errors at path:line:col;
#                   SIGINT and SIGTERM save (130, 143).
#   classification  the trainer (head: mean) and ones built here from
#                   tests/specs/classifier_last.yaml (head: last) and
#                   examples/classifier_bidirectional.yaml (bidirectional,
#                   head: last) learn "more a's or more b's" to >= 95%;
#                   lines longer than the steps are cut and counted;
#                   SIGTERM saves (143).
#   both            --resume is exact: 2 epochs straight == 1 epoch +
#                   --resume == 7 steps + --resume, checkpoints cmp equal.
#
# With THREADS (N >= 2; give the double trainer), the batch split instead
# (--threads N, rnnrt_parallel.c): with one minibatch an epoch, every
# step's loss (the epoch lines) is the one --threads 1 prints and the
# parameters after 10 steps are within 1e-12 (relative to their largest)
# of --threads 1's; two --threads N runs write the same bytes; and the
# resume-exactness, signal, damaged-checkpoint and divergence checks below
# pass with every `train` given --threads N.
set -euo pipefail
E2E_NAME=heads
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 5 ] || [ $# -eq 6 ] || { echo "usage: $0 labelling|classification TRAINER RNNC SRC WORKDIR [THREADS]" >&2; exit 2; }
task=$1 trainer=$2 rnnc=$3 src=$4 work=$5 threads=${6:-}
E2E_NAME=heads_$task${threads:+_threads$threads}
fresh_dir "$work"
gen() { awk -v task="$task" -f "$src/tests/e2e/heads_data.awk" "$@"; }

# train_to TRAINER DATA NAME: train, require val_acc >= 0.95, eval must
# report the same accuracy from the checkpoint.
train_to() {
    local tr=$1 data=$2 name=$3
    must "$name train" "$work/$name.train.log" "$tr" train --data "$data" --ckpt "$work/$name.ckpt" --quiet
    local acc
    acc=$(field val_acc "$work/$name.train.log")
    [ -n "$acc" ] || fail "$name: no val_acc on the RESULT line"
    fcmp "$acc >= 0.95" || { cat "$work/$name.train.log" >&2; fail "$name: validation accuracy $acc < 0.95"; }
    say "ok: $name: val_acc $acc ($(field seconds "$work/$name.train.log") s)"
    must "$name eval" "$work/$name.eval.log" "$tr" eval --data "$data" --ckpt "$work/$name.ckpt"
    [ "$(field val_acc "$work/$name.eval.log")" = "$acc" ] ||
        fail "$name: eval gives val_acc $(field val_acc "$work/$name.eval.log"), training $acc"
    say "ok: $name: eval reproduces it"
}

# build SPEC: a float trainer for SPEC (relative to the source) in $work.
build() {
    local name
    name=$(basename -- "$1" .yaml)
    "$rnnc" "$src/$1" -o "$work/$name.c"
    cc -O2 -std=c11 -I"$src/runtime" "$work/$name.c" "$(dirname -- "$rnnc")/librnnrt.a" \
        $(pkg-config --libs openblas jansson) -lm -o "$work/$name"
}

# refuse WHAT FILE EXPECTED: training on FILE must fail with exit 1 and
# print EXPECTED (a fixed string) on stderr.
refuse() {
    local what=$1 file=$2 expected=$3 rc=0
    "$trainer" train --data "$file" --ckpt "$work/bad.ckpt" --quiet >"$work/bad.out" 2>"$work/bad.err" || rc=$?
    [ "$rc" -eq 1 ] || { cat "$work/bad.err" >&2; fail "$what: exit $rc, expected 1"; }
    grep -qF -- "$expected" "$work/bad.err" ||
        { cat "$work/bad.err" >&2; fail "$what: expected the message: $expected"; }
    say "ok: $what: $expected"
}

# resume_exact DATA: on the one training driver, 2 epochs straight and
# 1 epoch + --resume, and 7 steps (mid-epoch) + --resume, write the same
# checkpoint byte for byte; the resumed runs go on from where they stopped
# (their first epoch line is epoch 2, their step counts add up).
resume_exact() {
    local data=$1 d=$work/resume
    mkdir -p "$d"
    must "2 epochs" "$d/a.log" "$trainer" train --data "$data" --ckpt "$d/a.ckpt" --epochs 2 --quiet
    local all
    all=$(field steps "$d/a.log")
    must "1 epoch" "$d/b1.log" "$trainer" train --data "$data" --ckpt "$d/b.ckpt" --epochs 1 --quiet
    must "--resume at epoch 2" "$d/b2.log" "$trainer" train --data "$data" --ckpt "$d/b.ckpt" --epochs 2 --resume --quiet
    grep -q '^epoch 1 ' "$d/b2.log" && { cat "$d/b2.log" >&2; fail "--resume after epoch 1 trained epoch 1 again"; }
    grep -q '^epoch 2 ' "$d/b2.log" || { cat "$d/b2.log" >&2; fail "--resume after epoch 1: no epoch 2 line"; }
    [ $(( $(field steps "$d/b1.log") + $(field steps "$d/b2.log") )) -eq "$all" ] ||
        fail "1 epoch + --resume took $(field steps "$d/b1.log") + $(field steps "$d/b2.log") steps, straight $all"
    cmp "$d/a.ckpt" "$d/b.ckpt" || fail "2 epochs and 1 epoch + --resume give different checkpoints"
    say "ok: 2 epochs == 1 epoch + --resume, byte for byte ($all steps)"
    must "7 steps" "$d/c1.log" "$trainer" train --data "$data" --ckpt "$d/c.ckpt" --epochs 2 --max-steps 7 --quiet
    must "--resume after 7 steps" "$d/c2.log" "$trainer" train --data "$data" --ckpt "$d/c.ckpt" --epochs 2 --resume --quiet
    [ $(( 7 + $(field steps "$d/c2.log") )) -eq "$all" ] ||
        fail "7 steps + --resume took 7 + $(field steps "$d/c2.log") steps, straight $all"
    cmp "$d/a.ckpt" "$d/c.ckpt" || fail "2 epochs and 7 steps + --resume give different checkpoints"
    say "ok: 2 epochs == 7 steps + --resume (mid-epoch), byte for byte"
    head -n 200 "$data" >"$d/other.txt"
    expect_refusal "--resume on other data" "$d/other.err" "$trainer" train --data "$d/other.txt" --ckpt "$d/c.ckpt" --epochs 3 --resume
    grep -qF "the data differs from the data '$d/c.ckpt' was trained on; pass --force" "$d/other.err" ||
        { cat "$d/other.err" >&2; fail "--resume on other data: wrong message"; }
}

# interrupt DATA SIGNAL EXIT: a long run, once it has printed an epoch
# line, is sent SIGNAL; it saves and exits EXIT, and the checkpoint loads.
interrupt() {
    local data=$1 sig=$2 want=$3 d=$work/$2 rc=0 i
    mkdir -p "$d"
    set -m # else the background job starts with SIGINT ignored
    "$trainer" train --data "$data" --ckpt "$d/m.ckpt" --epochs 1000000 >"$d/train.log" 2>&1 &
    local pid=$!
    set +m
    for i in $(seq 600); do # until it is really training, or 60 s
        grep -q '^epoch ' "$d/train.log" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null || { cat "$d/train.log" >&2; fail "the trainer ended before SIG$sig"; }
    kill -s "$sig" "$pid"
    wait "$pid" || rc=$?
    [ "$rc" -eq "$want" ] || { cat "$d/train.log" >&2; fail "SIG$sig: exit $rc, expected $want"; }
    grep -qF "interrupted: checkpoint saved to '$d/m.ckpt'" "$d/train.log" ||
        { cat "$d/train.log" >&2; fail "SIG$sig: no note of the saved checkpoint"; }
    no_tmp "$d" "SIG$sig"
    must "eval after SIG$sig" "$d/eval.log" "$trainer" eval --data "$data" --ckpt "$d/m.ckpt"
    must "--resume after SIG$sig" "$d/resume.log" "$trainer" train --data "$data" --ckpt "$d/m.ckpt" --resume --max-steps 2 --quiet
    say "ok: SIG$sig: exit $rc with a checkpoint that loads and resumes"
}

# damaged CKPT DATA: a flipped byte and a truncated file are refused by
# eval and by train --resume (exit 1), and nothing is written over them.
damaged() {
    local ckpt=$1 data=$2
    cp "$ckpt" "$work/flip.ckpt"
    printf '\xff' | dd of="$work/flip.ckpt" bs=1 seek=100 conv=notrunc status=none
    expect_refusal "a flipped byte" "$work/flip.err" "$trainer" eval --data "$data" --ckpt "$work/flip.ckpt"
    head -c 50 "$ckpt" >"$work/short.ckpt"
    expect_refusal "a truncated checkpoint" "$work/short.err" "$trainer" eval --data "$data" --ckpt "$work/short.ckpt"
    [ -z "$threads" ] && return
    local f
    for f in flip short; do
        cp "$work/$f.ckpt" "$work/$f.keep"
        expect_refusal "train --resume on $f.ckpt" "$work/$f.resume.err" \
            "$trainer" train --data "$data" --ckpt "$work/$f.ckpt" --resume --epochs 3
        cmp -s "$work/$f.ckpt" "$work/$f.keep" || fail "a refused --resume changed $f.ckpt"
    done
    say "ok: damaged checkpoints refused by eval and train --resume"
}

# diverge DATA: an absurd --lr on --resume stops with exit 4 (the
# divergence guard) and leaves the checkpoint as it was.
diverge() {
    local data=$1 d=$work/diverge rc=0
    mkdir -p "$d"
    must "1 epoch" "$d/a.log" "$trainer" train --data "$data" --ckpt "$d/m.ckpt" --epochs 1 --quiet
    cp "$d/m.ckpt" "$d/m.keep"
    "$trainer" train --data "$data" --ckpt "$d/m.ckpt" --epochs 2 --resume --lr 1e5 --quiet >"$d/b.log" 2>&1 || rc=$?
    [ "$rc" -eq 4 ] && grep -q "training diverged" "$d/b.log" ||
        { cat "$d/b.log" >&2; fail "--lr 1e5: exit $rc, expected 4 and 'training diverged'"; }
    cmp -s "$d/m.ckpt" "$d/m.keep" || fail "the diverged run changed the checkpoint"
    say "ok: --lr 1e5 on --resume: exit 4, checkpoint kept: $(grep -o 'the loss [^ ]* at [^:]*' "$d/b.log")"
}

if [ -n "$threads" ]; then
    real_trainer=$trainer
    # every `train` gets --threads N (exec: signals reach the trainer)
    trainer=$work/trainer_threads
    printf '#!/bin/sh\nif [ "$1" = train ]; then shift; exec "%s" train --threads %s "$@"; fi\nexec "%s" "$@"\n' \
        "$real_trainer" "$threads" "$real_trainer" >"$trainer"
    chmod +x "$trainer"
    if [ "$task" = labelling ]; then
        gen -v n=100 -v seed=1 >"$work/small.txt" # ~1600 training tokens
        one_step=(--batch 16 --steps 200)          # 16 streams of ~100
    else
        gen -v n=400 -v seed=1 >"$work/small.txt" # 320 training lines
        one_step=(--batch 320)
    fi
    for th in 1 "$threads" "$threads"; do
        d=$work/steps$th
        [ -d "$d" ] && d=${d}b
        mkdir -p "$d"
        must "--threads $th" "$d/train.log" "$real_trainer" train --data "$work/small.txt" --ckpt "$d/m.ckpt" \
            --epochs 10 "${one_step[@]}" --threads "$th"
    done
    [ "$(field steps "$work/steps1/train.log")" = 10 ] || fail "expected one step an epoch"
    diff <(grep '^epoch ' "$work/steps1/train.log") <(grep '^epoch ' "$work/steps$threads/train.log") ||
        fail "the per-step losses of --threads $threads differ from --threads 1"
    say "ok: 10 steps, --threads $threads prints --threads 1's losses: $(grep '^epoch ' "$work/steps1/train.log" | awk '{ printf "%s ", $4 }')"
    cmp "$work/steps$threads/m.ckpt" "$work/steps${threads}b/m.ckpt" ||
        fail "two --threads $threads runs wrote different checkpoints"
    say "ok: two --threads $threads runs write the same checkpoint"
    if command -v python3 >/dev/null; then
        rel=$(python3 "$src/tests/e2e/ckpt_diff.py" "$work/steps1/m.ckpt" "$work/steps$threads/m.ckpt")
        fcmp "$rel <= 1e-12" || fail "parameters after 10 steps: --threads $threads differs from 1 by $rel (relative)"
        say "ok: parameters after 10 steps: --threads $threads within $rel (relative) of --threads 1"
    else
        say "note: no python3: the parameters are not compared"
    fi
    if [ "$task" = labelling ]; then
        gen -v n=600 -v seed=1 >"$work/data.txt"
    else
        gen -v n=3000 -v seed=1 >"$work/data.txt"
    fi
    resume_exact "$work/data.txt"
    interrupt "$work/data.txt" TERM 143
    interrupt "$work/data.txt" INT 130
    damaged "$work/resume/a.ckpt" "$work/data.txt"
    diverge "$work/data.txt"
    say "passed"
    exit 0
fi

if [ "$task" = labelling ]; then
    gen -v n=600 -v seed=1 >"$work/tag.txt"
    train_to "$trainer" "$work/tag.txt" tagger
    build examples/tagger_bidirectional.yaml
    train_to "$work/tagger_bidirectional" "$work/tag.txt" tagger_bidirectional
    uni=$(field val_acc "$work/tagger.train.log") bi=$(field val_acc "$work/tagger_bidirectional.train.log")
    fcmp "$bi >= $uni" || fail "the bidirectional tagger ($bi) does worse than the tagger ($uni)"
    say "ok: bidirectional tagger $bi >= tagger $uni"
    expect_refusal "sample for a labelling model" "$work/sample.err" "$trainer" sample --ckpt "$work/tagger.ckpt"
    grep -qF "sample is not available for task labelling" "$work/sample.err" || fail "sample: wrong message"

    # budgets, signals and damaged checkpoints
    must "--max-steps" "$work/budget.log" "$trainer" train --data "$work/tag.txt" --ckpt "$work/budget.ckpt" --max-steps 3
    [ "$(field steps "$work/budget.log")" = 3 ] || { cat "$work/budget.log" >&2; fail "--max-steps 3 ran $(field steps "$work/budget.log") steps"; }
    say "ok: --max-steps 3 stops after 3 steps"
    resume_exact "$work/tag.txt"
    # the driver's options, which the task trainer refused before
    must "schedule options" "$work/sched.log" "$trainer" train --data "$work/tag.txt" --ckpt "$work/sched.ckpt" \
        --epochs 4 --lr-schedule cosine --warmup-steps 3 --weight-decay 0.001 --eval-every 2 --save-every 5 \
        --max-loss-ratio 10 --early-stop 5 --quiet
    [ "$(grep -c '^epoch ' "$work/sched.log")" -eq 2 ] && grep -q '^epoch 2 .* lr ' "$work/sched.log" &&
        grep -q '^epoch 4 .* lr ' "$work/sched.log" || { cat "$work/sched.log" >&2; fail "--eval-every 2 with a schedule: expected the lines of epochs 2 and 4 with their lr"; }
    [ -s "$work/sched.ckpt.best" ] || fail "no best checkpoint '$work/sched.ckpt.best'"
    say "ok: schedules, --weight-decay, --eval-every, --save-every, --early-stop are accepted; <ckpt>.best written"
    rc=0
    "$trainer" train --data "$work/tag.txt" --ckpt "$work/bad.ckpt" --sampler random >/dev/null 2>"$work/sampler.err" || rc=$?
    [ "$rc" -eq 2 ] && grep -qF -- "--sampler is for language models" "$work/sampler.err" ||
        { cat "$work/sampler.err" >&2; fail "--sampler for a labelling model: exit $rc, expected 2 and a message"; }
    say "ok: --sampler is refused for a labelling model"
    # a fresh run does not replace a file that is not this model's checkpoint
    printf 'my notes\n' >"$work/notes.txt"
    cp "$work/notes.txt" "$work/notes.keep"
    expect_refusal "a fresh run over a text file" "$work/over.err" \
        "$trainer" train --data "$work/tag.txt" --ckpt "$work/notes.txt" --max-steps 1
    grep -q "refusing to overwrite" "$work/over.err" || { cat "$work/over.err" >&2; fail "no refusal message"; }
    cmp -s "$work/notes.txt" "$work/notes.keep" || fail "the refused run changed '$work/notes.txt'"
    must "--force over a text file" "$work/force.log" \
        "$trainer" train --data "$work/tag.txt" --ckpt "$work/notes.txt" --max-steps 1 --force --quiet
    say "ok: a fresh run refuses to overwrite a file that is not its checkpoint; --force does"
    interrupt "$work/tag.txt" TERM 143
    interrupt "$work/tag.txt" INT 130
    damaged "$work/tagger.ckpt" "$work/tag.txt"
    # the one checkpoint format: the task trainer's old one is refused by name
    { printf 'RNNTASK1'; tail -c +9 "$work/tagger.ckpt"; } >"$work/old.ckpt"
    rc=0
    "$trainer" eval --data "$work/tag.txt" --ckpt "$work/old.ckpt" >/dev/null 2>"$work/old.err" || rc=$?
    [ "$rc" -eq 1 ] && grep -q "old labelling or classification checkpoint format RNNTASK1" "$work/old.err" ||
        fail "an RNNTASK1 file: exit $rc: $(cat "$work/old.err")"
    say "ok: an RNNTASK1 checkpoint is refused by name"

    printf 'a\tO\nb\n' >"$work/notab.txt"
    refuse "a line without a tab" "$work/notab.txt" \
        "notab.txt:2:2: error: expected \`token<TAB>label\`, but the line has no tab"
    printf 'a\tO\nb\t\n' >"$work/nolabel.txt"
    refuse "an empty label" "$work/nolabel.txt" "nolabel.txt:2:3: error: expected \`token<TAB>label\`, but the label is empty"
    printf 'a\tO\nbc\tI\n' >"$work/twochars.txt"
    refuse "a two-character token" "$work/twochars.txt" \
        "twochars.txt:2:1: error: expected \`token<TAB>label\` with one character as the token (tokens: char)"
    : >"$work/empty.txt"
    refuse "an empty file" "$work/empty.txt" "empty.txt: error: no data lines"
    { for i in 1 2 3 4 5 6 7 8; do printf 'a\tO\n'; done; printf 'b\tO\nb\tX\n'; } >"$work/unseen.txt"
    refuse "a label only in the validation split" "$work/unseen.txt" \
        "unseen.txt:10:3: error: label 'X' does not occur in the training split"
else
    gen -v n=3000 -v seed=1 >"$work/cls.txt"
    train_to "$trainer" "$work/cls.txt" classifier_mean
    build examples/classifier_bidirectional.yaml
    train_to "$work/classifier_bidirectional" "$work/cls.txt" classifier_bidirectional
    resume_exact "$work/cls.txt"
    interrupt "$work/cls.txt" TERM 143
    name=classifier_last
    build "tests/specs/$name.yaml"
    train_to "$work/$name" "$work/cls.txt" "$name"
    expect_refusal "sample for a classification model" "$work/sample.err" "$trainer" sample --ckpt "$work/$name.ckpt"
    printf 'more_a\taab\nequal\tab\n' >"$work/other.txt"
    expect_refusal "eval on a label the checkpoint lacks" "$work/other.err" \
        "$trainer" eval --data "$work/other.txt" --ckpt "$work/classifier_mean.ckpt"
    grep -qF "other.txt:2:1: error: label 'equal' is not one of the checkpoint's labels" "$work/other.err" ||
        { cat "$work/other.err" >&2; fail "eval: wrong message for an unknown label"; }

    # Lines longer than the steps (24) are cut, and counted.
    gen -v n=400 -v seed=2 -v maxlen=40 >"$work/long.txt"
    want=$(awk -F'\t' 'length($2) > 24' "$work/long.txt" | wc -l)
    [ "$want" -gt 0 ] || fail "the long data has no line over 24 characters"
    "$trainer" train --data "$work/long.txt" --ckpt "$work/long.ckpt" --epochs 1 >"$work/long.log" 2>&1 ||
        { cat "$work/long.log" >&2; fail "training on long lines failed"; }
    grep -qF "$want lines cut to 24 tokens" "$work/long.log" ||
        { cat "$work/long.log" >&2; fail "expected the note: $want lines cut to 24 tokens"; }
    say "ok: $want lines cut to 24 tokens, reported"

    printf 'more_a\taab\nmore_b\n' >"$work/notab.txt"
    refuse "a line without a tab" "$work/notab.txt" \
        "notab.txt:2:7: error: expected \`label<TAB>text\`, but the line has no tab"
    printf 'more_a\taab\n\tbba\n' >"$work/nolabel.txt"
    refuse "an empty label" "$work/nolabel.txt" "nolabel.txt:2:1: error: expected \`label<TAB>text\`, but the label is empty"
    : >"$work/empty.txt"
    refuse "an empty file" "$work/empty.txt" "empty.txt: error: no data lines"
fi
say "passed"
