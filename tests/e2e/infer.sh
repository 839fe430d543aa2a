#!/usr/bin/env bash
# infer.sh RNNC SPEC DATA WORKDIR: `rnnc --inference` (issue #15) on a
# language-model spec, its hidden size cut to 48 (an embedding to 16):
#   - the spec's trainer (rnnc + cc + librnnrt.a, as README shows) trains 60
#     steps; rnnc SPEC --inference --weights CKPT writes the standalone file;
#   - the file compiles with gcc and clang at -std=c11 -Wall -Wextra -pedantic
#     -Werror, hosted and -ffreestanding (and -m32 where a 32-bit toolchain
#     is installed: gcc-multilib); its object references no symbol but
#     libm's (nm -u);
#   - tests/infer/driver.c, linked with the object (each compiler's, and the
#     32-bit ones), gives the logits the
#     trainer's generation step gives (tests/infer/ref.c: rnnrt_gen_feed) on
#     a text, to 1e-5 relative, and the trainer's `sample` text token for
#     token, greedy and with a seed and a temperature, with zero heap
#     allocations (counted) and once under ASan/UBSan;
#   - a tagger (task: labelling) gives the trainer's logits and labels on a
#     text, a classifier (task: classification) its probabilities on texts
#     and the lines of its `predict` (label and probability); these and
#     bidirectional models run whole sequences (_run: the driver's -DTEST_SEQ);
#   - --runtime-weights: the file that loads the checkpoint at run time
#     (from a buffer; emit_infer_load.c) builds as strictly, gives the same
#     logits from the same checkpoint, and refuses (an error code, never a
#     crash: under ASan/UBSan where available) every truncation, sampled
#     flipped bytes, edits with right CRCs (spec hash, name, task, a
#     dimension, a shape, a token, a NaN weight) and a real checkpoint of
#     an edited spec;
#   - a truncated, flipped, foreign (another spec's) checkpoint and a
#     checkpoint of an edited spec are refused by rnnc (exit 3, 3, 1, 1),
#     and --inference without --weights or with -d is a usage error.
# A seq2seq spec (task: seq2seq; DATA: tab-separated pairs, else a toy
# reversal task): the trainer trains 300 steps on 3000 pairs; the standalone
# file (tests/infer/driver_s2s.c) translates a list of sentences as the
# trainer's `translate` does, word for word (greedy and --beam 4), and its
# decoder logits on each greedy path equal the trainer's decoder step's
# (tests/infer/ref_s2s.c) to 1e-5 relative.
set -euo pipefail
E2E_NAME=infer
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 4 ] || { echo "usage: $0 RNNC SPEC DATA WORKDIR" >&2; exit 2; }
rnnc=$1 spec=$2 work=$4
pick_data "$3"
fresh_dir "$work"
src=$(cd "$(dirname -- "$0")/../.." && pwd)
build=$(dirname -- "$rnnc")
name=$(sed -n 's/^model: *//p' "$spec")
upper=$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')
task=$(sed -n 's/^task: *\([a-z0-9_]*\).*/\1/p' "$spec")
E2E_NAME="infer $name"
seq=0 # a whole-sequence model: a classifier, a bidirectional one
[ "$task" = classification ] && seq=1
grep -qE '^  bidirectional: *true' "$spec" && seq=1

sed -E -e "s/^(  hidden:) [0-9]+/\1 48/" -e "s/\{embed: [0-9]+\}/{embed: 16}/" "$spec" >"$work/$name.yaml"
"$rnnc" "$work/$name.yaml" -o "$work/trainer.c"
cflags=(-O2 -std=c11 -I"$src/runtime")
libs=("$build/librnnrt.a" $(pkg-config --libs openblas jansson) -lm -lpthread)
cc "${cflags[@]}" "$work/trainer.c" "${libs[@]}" -o "$work/trainer"
cc "${cflags[@]}" -DRNNC_NO_MAIN -c "$work/trainer.c" -o "$work/trainer.o"
ref=ref
[ "$task" = seq2seq ] && ref=ref_s2s
cc "${cflags[@]}" -DREF_MODEL="${name}_model" "$src/tests/infer/$ref.c" "$work/trainer.o" "${libs[@]}" -o "$work/ref"
ckpt=$work/m.ckpt
if [ "$task" = seq2seq ]; then
    if [ ${#DATA[@]} -gt 0 ]; then
        pairs=${DATA[1]}
    else # a toy task: reverse 3-6 words over 12
        say "note: a seq2seq spec: a toy reversal task instead"
        pairs=$work/reverse.txt
        awk 'BEGIN { srand(1); for (i = 0; i < 3000; i++) { n = 3 + int(rand() * 4); a = ""; b = ""
                     for (j = 0; j < n; j++) { w = "w" int(rand() * 12); a = a (j ? " " : "") w; b = w (j ? " " : "") b }
                     print a "\t" b } }' >"$pairs"
    fi
    must "training" "$work/train.log" \
        "$work/trainer" train "$pairs" --max-pairs 3000 --max-steps 300 --threads 1 --quiet --eval-max 0 --ckpt "$ckpt"
    # sources: held-out pairs' (the last of the 3000), a few written here, an empty line
    head -n 3000 "$pairs" | tail -n 12 | cut -f1 >"$work/sources.txt"
    printf '%s\n' "Go!" "I lost." "He's calm, isn't he?" "We are HERE !" "" "zzz qqq" "TOM,  ÉTÉ ÀLA İ Ÿ.." \
        "Tom est ДА!" >>"$work/sources.txt"
elif [ "$task" = labelling ]; then # a tagger: self-made data (tests/e2e/heads_data.awk)
    awk -v task=labelling -v n=300 -v seed=1 -f "$src/tests/e2e/heads_data.awk" >"$work/tag.txt"
    must "training" "$work/train.log" \
        "$work/trainer" train --data "$work/tag.txt" --max-steps 60 --threads 1 --quiet --ckpt "$ckpt"
    text="ab (cd (e) a) b (c) de (a (b) c) e abc (d) (e (a) b) cd"
elif [ "$task" = classification ]; then # more a's or more b's (tests/e2e/heads_data.awk)
    awk -v task=classification -v n=300 -v seed=1 -f "$src/tests/e2e/heads_data.awk" >"$work/cls.txt"
    must "training" "$work/train.log" \
        "$work/trainer" train --data "$work/cls.txt" --max-steps 60 --threads 1 --quiet --ckpt "$ckpt"
    # (the last is longer than the trainer's 24 steps: both cut it)
    texts=("aabca" "bbbcacbcaaab" "c" "abcabcabcabcabcabcabcabcabcbbbbbbbbbbbbbb" "xyz ab")
    text=${texts[0]}
else
    must "training" "$work/train.log" \
        "$work/trainer" train "${DATA[@]}" --max-steps 60 --threads 1 --quiet --sample-len 0 --ckpt "$ckpt"
    text="the time traveller for so it will be convenient to speak of him was expounding a recondite matter to us"
fi
must "rnnc --inference" "$work/rnnc.log" "$rnnc" "$work/$name.yaml" --inference --weights "$ckpt" -o "$work/m_infer.c"

# The standalone file: strict C11 with both compilers, hosted and freestanding.
strict=(-std=c11 -Wall -Wextra -pedantic -Werror -O2)
compilers=()
for c in gcc clang; do
    command -v "$c" >/dev/null && compilers+=("$c") || say "note: $c is not installed; skipped"
done
[ ${#compilers[@]} -gt 0 ] || fail "no compiler"
only_libm() { # OBJECT: every undefined symbol is libm's
    local bad
    # (_GLOBAL_OFFSET_TABLE_: made by the linker for i386 position-independent code)
    bad=$(nm -u "$1" | awk '{ print $NF }' | grep -vxE 'expf|exp|log|pow|_GLOBAL_OFFSET_TABLE_' || true)
    [ -z "$bad" ] || fail "$1 references symbols outside libm: $bad"
}
for c in "${compilers[@]}"; do
    must "$c -c" "$work/$c.log" "$c" "${strict[@]}" -c "$work/m_infer.c" -o "$work/m_$c.o"
    must "$c -ffreestanding -c" "$work/$c.log" "$c" "${strict[@]}" -ffreestanding -c "$work/m_infer.c" -o "$work/m_${c}_free.o"
    only_libm "$work/m_$c.o"
    only_libm "$work/m_${c}_free.o"
done
m32=()
if echo 'int main(void) { return 0; }' | gcc -m32 -x c - -o "$work/m32" 2>/dev/null; then
    for c in "${compilers[@]}"; do
        must "$c -m32" "$work/m32.log" "$c" "${strict[@]}" -m32 -c "$work/m_infer.c" -o "$work/m_${c}_m32.o"
        must "$c -m32 -ffreestanding" "$work/m32.log" "$c" "${strict[@]}" -m32 -ffreestanding -c "$work/m_infer.c" \
            -o "$work/m_${c}_m32_free.o"
        only_libm "$work/m_${c}_m32.o"
        only_libm "$work/m_${c}_m32_free.o"
        m32+=("$c")
    done
    say "ok: -m32"
else
    say "note: no 32-bit toolchain (gcc-multilib); -m32 skipped"
fi
say "ok: strict C11, hosted and freestanding, only libm: $(size "$work/m_${compilers[0]}.o" | tail -n 1)"

# The driver with each compiler's object.
dflags=(-O2 -std=c11 -D_GNU_SOURCE -DMODEL="$name" -DUPPER="$upper" -DINFER_FILE="\"$work/m_infer.c\"")
tflags=() # what the driver tests
[ "$task" = labelling ] && tflags+=(-DTEST_TAGGER)
[ "$task" = classification ] && tflags+=(-DTEST_CLASSIFIER)
[ "$seq" = 1 ] && tflags+=(-DTEST_SEQ)
dflags+=("${tflags[@]}")
driver=$src/tests/infer/driver.c
[ "$task" = seq2seq ] && driver=$src/tests/infer/driver_s2s.c
drivers=()
for c in "${compilers[@]}"; do
    "$c" "${dflags[@]}" "$driver" "$work/m_$c.o" -lm -ldl -o "$work/driver_$c"
    drivers+=("$c")
done
for c in "${m32[@]}"; do # x87 arithmetic: still within the tolerance, the same samples
    "$c" -m32 "${dflags[@]}" "$driver" "$work/m_${c}_m32.o" -lm -ldl -o "$work/driver_$c-m32"
    drivers+=("$c-m32")
done

# Logits: the trainer's step (a tagger: its forward; a classifier: rnnrt_classify's
# probabilities) and the standalone file's on a text (a classifier: on each text;
# seq2seq: the decoder's on each sentence's greedy path, below).
logits() { # PROGRAM ARGS...: each text's output, one file
    if [ "$task" = classification ]; then
        local t
        for t in "${texts[@]}"; do "$@" "$t" || return; done
    else
        "$@" "$text"
    fi
}
compare_logits() { # WANT GOT: max relative difference <= 1e-5
    awk -v tol=1e-5 'NR == FNR { want[FNR] = $0; n = FNR; next }
        { split(want[FNR], w, " ")
          if (NF != length(w) || $1 != w[1]) { print "line " FNR ": differs"; bad = 1; exit 1 }
          for (i = 2; i <= NF; i++) {
              d = $i - w[i]; if (d < 0) d = -d
              a = w[i] < 0 ? -w[i] : w[i]; m = a > 1 ? a : 1
              if (d / m > worst) worst = d / m
              if (d / m > tol) { print "line " FNR " logit " i - 2 ": " $i " vs " w[i]; bad = 1; exit 1 }
          }
          lines++ }
        END { if (!bad) { if (lines != n) { print "lines: " lines " of " n; exit 1 }
                          printf "%d steps x %d logits, max |diff| / max(|want|, 1) = %.2g\n", lines, NF - 1, worst } }' "$1" "$2"
}
if [ "$task" = seq2seq ]; then
    # The trainer's translations; each compiler's, word for word.
    "$work/trainer" translate --model "$ckpt" <"$work/sources.txt" >"$work/want.txt" 2>"$work/translate.log" ||
        fail "the trainer's translate: $(cat "$work/translate.log")"
    for c in "${drivers[@]}"; do
        "$work/driver_$c" translate <"$work/sources.txt" >"$work/got_$c.txt" 2>"$work/tr_$c.log" ||
            fail "$c: driver translate: $(cat "$work/tr_$c.log")"
        cmp -s "$work/want.txt" "$work/got_$c.txt" ||
            fail "$c: the translations differ from the trainer's: $(diff "$work/want.txt" "$work/got_$c.txt" | head -n 6)"
    done
    "$work/trainer" translate --model "$ckpt" --beam 4 <"$work/sources.txt" >"$work/want_beam.txt" 2>"$work/translate.log" ||
        fail "the trainer's translate --beam 4: $(cat "$work/translate.log")"
    for c in "${drivers[@]}"; do
        "$work/driver_$c" beam 4 <"$work/sources.txt" >"$work/got_beam_$c.txt" 2>"$work/tr_$c.log" ||
            fail "$c: driver beam 4: $(cat "$work/tr_$c.log")"
        cmp -s "$work/want_beam.txt" "$work/got_beam_$c.txt" || fail "$c: the beam search's translations differ from \
the trainer's: $(diff "$work/want_beam.txt" "$work/got_beam_$c.txt" | head -n 6)"
    done
    say "ok: $(wc -l <"$work/want.txt") translations as the trainer's, greedy and beam 4, e.g. '$(sed -n 13p "$work/sources.txt")' -> '$(sed -n 13p "$work/want.txt")'; $(cat "$work/tr_${drivers[0]}.log")"
    # The decoder's logits on each sentence's greedy path.
    : >"$work/worst.txt"
    while IFS= read -r -u 3 sentence && IFS= read -r -u 4 translation; do
        must "ref_s2s" "$work/ref.out" "$work/ref" "$ckpt" "$sentence" "$translation"
        for c in "${drivers[@]}"; do
            must "driver logits ($c)" "$work/logits_$c.out" "$work/driver_$c" logits "$sentence"
            grep -v '^driver: ' "$work/logits_$c.out" >"$work/logits_$c.txt"
            cmp=$(compare_logits "$work/ref.out" "$work/logits_$c.txt") ||
                fail "$c: '$sentence': the decoder's logits differ from the trainer's: $cmp"
            echo "$c $cmp" >>"$work/worst.txt"
        done
    done 3<"$work/sources.txt" 4<"$work/want.txt"
    say "ok: decoder logits: $(awk '{ steps[$1] += $2; w = $NF + 0; if (w > worst[$1]) worst[$1] = w }
        END { for (c in steps) printf "%s%s: %d steps x %d logits, max relative difference %.2g", n++ ? "; " : "", c,
                                       steps[c], $5, worst[c] }' "$work/worst.txt")"
    must "driver refuse" "$work/refuse.log" "$work/driver_${compilers[0]}" refuse
fi

[ "$task" = seq2seq ] || must "ref" "$work/ref.out" logits "$work/ref" "$ckpt"
for c in "${drivers[@]}"; do
    [ "$task" = seq2seq ] && break
    must "driver logits ($c)" "$work/logits_$c.out" logits "$work/driver_$c" logits
    grep -v '^driver: ' "$work/logits_$c.out" >"$work/logits_$c.txt"
    cmp=$(compare_logits "$work/ref.out" "$work/logits_$c.txt") || fail "$c: logits differ from the trainer's: $cmp"
    say "ok: $c: logits: $cmp; $(grep '^driver: ' "$work/logits_$c.out")"
done

if [ "$task" = labelling ]; then
    # A tagger's labels: the most likely of the trainer's logits, per character.
    awk '{ best = 2; for (i = 3; i <= NF; i++) if ($i + 0 > $best + 0) best = i; print best - 2 }' \
        "$work/ref.out" >"$work/want_labels.txt"
    for c in "${drivers[@]}"; do
        must "driver tag ($c)" "$work/tag_$c.out" "$work/driver_$c" tag "$text"
        grep -v '^driver: ' "$work/tag_$c.out" | awk '{ print $1 }' >"$work/got_labels.txt"
        cmp -s "$work/want_labels.txt" "$work/got_labels.txt" || fail "$c: the labels differ from the trainer's"
    done
    say "ok: labels: $(grep -v '^driver: ' "$work/tag_${drivers[0]}.out" | awk '{ printf "%s", $2 }')"
fi
if [ "$task" = classification ]; then
    # The trainer's predict: a label and its probability (%.4f) per line.
    printf '%s\n' "${texts[@]}" >"$work/lines.txt"
    "$work/trainer" predict --ckpt "$ckpt" <"$work/lines.txt" >"$work/want_predict.txt" 2>"$work/predict.err" ||
        fail "the trainer's predict: $(cat "$work/predict.err")"
    for c in "${drivers[@]}"; do
        "$work/driver_$c" predict <"$work/lines.txt" >"$work/got_predict.txt" 2>"$work/dp.err" ||
            fail "$c: driver predict: $(cat "$work/dp.err")"
        # the same label; the probability as printed, up to its last digit
        paste "$work/want_predict.txt" "$work/got_predict.txt" |
            awk -F '\t' '{ d = $2 - $4; if (d < 0) d = -d; if ($1 != $3 || d > 1.5e-4) { print; bad = 1 } n++ }
                END { exit bad || n != '"${#texts[@]}"' }' >"$work/predict.diff" ||
            fail "$c: predict differs from the trainer's: $(cat "$work/predict.diff")"
    done
    say "ok: predict: $(tr '\t\n' ' ;' <"$work/want_predict.txt")"
fi

# Samples: the trainer's `sample` text, token for token.
same_sample() { # PREFIX LEN SEED TEMPERATURE [TRAINER OPTS...]
    local prefix=$1 len=$2 seed=$3 temp=$4 got want
    shift 4
    must "the trainer's sample" "$work/tr.log" "$work/trainer" sample --ckpt "$ckpt" --prefix "$prefix" --len "$len" --seed "$seed" "$@"
    want=$(grep -v ': note: ' "$work/tr.log")
    for c in "${drivers[@]}"; do
        must "driver sample ($c)" "$work/ds.log" "$work/driver_$c" sample "$prefix" "$len" "$seed" "$temp"
        got=$(grep -v '^driver: ' "$work/ds.log")
        [ "$got" = "$want" ] || fail "$c: samples differ (seed $seed, temperature $temp):
  standalone: $got
  trainer:    $want"
    done
    say "ok: seed $seed temperature $temp: $got"
}
if [ "$task" = language_model ]; then
    same_sample "the " 200 0 0 --greedy
    same_sample "the time " 200 5 1
    same_sample "we " 100 11 0.7 --temperature 0.7
fi
[ "$task" = seq2seq ] || must "driver refuse" "$work/refuse.log" "$work/driver_${compilers[0]}" refuse

# Once under ASan and UBSan.
if echo 'int main(void) { return 0; }' | cc -fsanitize=address,undefined -x c - -o "$work/asan_probe" 2>/dev/null; then
    cc -O1 -g -std=c11 -fsanitize=address,undefined -fno-sanitize-recover=all -c "$work/m_infer.c" -o "$work/m_asan.o"
    cc -O1 -g -std=c11 -D_GNU_SOURCE -fsanitize=address,undefined -fno-sanitize-recover=all -DMODEL="$name" \
        -DUPPER="$upper" -DINFER_FILE="\"$work/m_infer.c\"" -DNO_ALLOC_COUNT "${tflags[@]}" \
        "$driver" \
        "$work/m_asan.o" -lm -ldl -o "$work/driver_asan"
    if [ "$task" = seq2seq ]; then
        must "driver under ASan/UBSan" "$work/asan.log" "$work/driver_asan" translate <"$work/sources.txt"
        must "driver under ASan/UBSan" "$work/asan.log" "$work/driver_asan" beam 4 <"$work/sources.txt"
        must "driver under ASan/UBSan" "$work/asan.log" "$work/driver_asan" logits "$(head -n 1 "$work/sources.txt")"
    elif [ "$task" = classification ]; then
        must "driver under ASan/UBSan" "$work/asan.log" logits "$work/driver_asan" logits
    elif [ "$task" = labelling ]; then
        must "driver under ASan/UBSan" "$work/asan.log" "$work/driver_asan" tag "$text"
    else
        must "driver under ASan/UBSan" "$work/asan.log" "$work/driver_asan" sample "the " 100 3 1
    fi
    must "driver under ASan/UBSan" "$work/asan.log" "$work/driver_asan" refuse
    say "ok: ASan/UBSan"
else
    say "note: no sanitizer runtime; ASan/UBSan skipped"
fi

# Weights read at run time (--runtime-weights): the same logits from the same
# checkpoint; damaged and foreign checkpoints refused with the loader's codes.
# (seq2seq: refused for now, below)
if [ "$task" != seq2seq ]; then
    must "rnnc --runtime-weights" "$work/rnnc.log" "$rnnc" "$work/$name.yaml" --inference --weights "$ckpt" \
        --runtime-weights -o "$work/m_load.c"
    for c in "${compilers[@]}"; do
        must "$c -c (loader)" "$work/$c.log" "$c" "${strict[@]}" -c "$work/m_load.c" -o "$work/ml_$c.o"
        must "$c -ffreestanding -c (loader)" "$work/$c.log" "$c" "${strict[@]}" -ffreestanding -c "$work/m_load.c" \
            -o "$work/ml_${c}_free.o"
        only_libm "$work/ml_$c.o"
        only_libm "$work/ml_${c}_free.o"
        for m in "${m32[@]}"; do
            [ "$m" = "$c" ] || continue
            must "$c -m32 -ffreestanding (loader)" "$work/m32.log" "$c" "${strict[@]}" -m32 -ffreestanding -c \
                "$work/m_load.c" -o "$work/ml_${c}_m32.o"
            only_libm "$work/ml_${c}_m32.o"
        done
        "$c" -O2 -std=c11 -D_GNU_SOURCE -DMODEL="$name" -DUPPER="$upper" -DINFER_FILE="\"$work/m_load.c\"" \
            "${tflags[@]}" -DTEST_LOAD "$src/tests/infer/driver.c" "$work/ml_$c.o" -lm -ldl -o "$work/dl_$c"
        INFER_CKPT=$ckpt must "loader driver logits ($c)" "$work/ll_$c.out" logits "$work/dl_$c" logits
        grep -v '^driver: ' "$work/ll_$c.out" >"$work/ll_$c.txt"
        cmp=$(compare_logits "$work/ref.out" "$work/ll_$c.txt") || fail "$c: loaded weights: logits differ: $cmp"
        say "ok: $c: weights loaded at run time: logits: $cmp; $(grep '^driver: ' "$work/ll_$c.out")"
    done
    san=()
    echo 'int main(void) { return 0; }' | cc -fsanitize=address,undefined -x c - -o "$work/asan_probe" 2>/dev/null &&
        san=(-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -DNO_ALLOC_COUNT)
    cc -std=c11 -D_GNU_SOURCE "${san[@]}" -DMODEL="$name" -DUPPER="$upper" -DINFER_FILE="\"$work/m_load.c\"" \
        "${tflags[@]}" -DTEST_LOAD "$src/tests/infer/driver.c" "$work/m_load.c" -lm -ldl -o "$work/dl_damage"
    must "the loader's refusals" "$work/damage.log" "$work/dl_damage" damage "$ckpt"
    say "ok: loader${san[*]:+ (ASan/UBSan)}: $(grep -v '^driver: ' "$work/damage.log")"
    # a real checkpoint of another version of the spec: refused (exit 3, the loader's message)
    { cat "$work/$name.yaml"; echo "# edited"; } >"$work/edited.yaml"
    "$rnnc" "$work/edited.yaml" -o "$work/edited.c"
    cc "${cflags[@]}" "$work/edited.c" "${libs[@]}" -o "$work/edited_trainer"
    if [ "$task" = labelling ]; then data=(--data "$work/tag.txt"); elif [ "$task" = classification ]; then
        data=(--data "$work/cls.txt"); else data=("${DATA[@]}" --sample-len 0); fi
    must "training the edited spec" "$work/edited_train.log" \
        "$work/edited_trainer" train "${data[@]}" --max-steps 2 --threads 1 --quiet --ckpt "$work/edited.ckpt"
    rc=0
    INFER_CKPT=$work/edited.ckpt "$work/dl_${compilers[0]}" logits "${texts[0]:-$text}" >"$work/foreign.log" 2>&1 || rc=$?
    [ "$rc" -eq 3 ] && grep -q "another model, task or version of the spec" "$work/foreign.log" ||
        fail "the loader took a checkpoint of an edited spec (exit $rc): $(cat "$work/foreign.log")"
    say "ok: loader: an edited spec's checkpoint: $(cat "$work/foreign.log")"
fi

# Refusals: rnnc says why and exits nonzero; nothing is written.
refused() { # WHAT CODE CKPT [SPEC]
    local what=$1 code=$2 file=$3 sp=${4:-$work/$name.yaml} rc=0
    rm -f "$work/bad_infer.c"
    "$rnnc" "$sp" --inference --weights "$file" -o "$work/bad_infer.c" >"$work/bad.out" 2>"$work/bad.err" || rc=$?
    [ "$rc" -eq "$code" ] || { cat "$work/bad.err" >&2; fail "$what: exit $rc, want $code"; }
    grep -q "^rnnc: error: " "$work/bad.err" || fail "$what: no message: $(cat "$work/bad.err")"
    [ ! -e "$work/bad_infer.c" ] || fail "$what: an output was written"
    say "ok: $what: $(head -n 1 "$work/bad.err")"
}
size=$(wc -c <"$ckpt")
head -c $((size / 2)) "$ckpt" >"$work/cut.ckpt"
refused "a truncated checkpoint" 3 "$work/cut.ckpt"
cp "$ckpt" "$work/flip.ckpt"
printf '\377' | dd of="$work/flip.ckpt" bs=1 seek=$((size / 2)) count=1 conv=notrunc status=none
cmp -s "$ckpt" "$work/flip.ckpt" && fail "the flip changed nothing"
refused "a flipped byte" 3 "$work/flip.ckpt"
refused "a missing checkpoint" 3 "$work/missing.ckpt"
{ cat "$work/$name.yaml"; echo "# edited"; } >"$work/edited.yaml"
refused "the checkpoint of another version of the spec" 1 "$ckpt" "$work/edited.yaml"
sed -E "s/^model: .*/model: other/" "$work/$name.yaml" >"$work/other.yaml"
refused "the checkpoint of another model" 1 "$ckpt" "$work/other.yaml"

# Usage errors (exit 2): --inference needs --weights and goes without -d.
usage_error() { # WHAT ARGS...
    local what=$1 rc=0
    shift
    "$rnnc" "$@" >"$work/usage.out" 2>"$work/usage.err" || rc=$?
    [ "$rc" -eq 2 ] || { cat "$work/usage.err" >&2; fail "$what: exit $rc, want 2"; }
    grep -q "^rnnc: error: " "$work/usage.err" || fail "$what: no message"
    say "ok: $what: $(head -n 1 "$work/usage.err")"
}
usage_error "--inference without --weights" "$work/$name.yaml" --inference -o "$work/u.c"
usage_error "--weights without --inference" "$work/$name.yaml" --weights "$ckpt" -o "$work/u.c"
usage_error "--runtime-weights without --inference" "$work/$name.yaml" --runtime-weights -o "$work/u.c"
[ "$task" != seq2seq ] || usage_error "--runtime-weights on seq2seq" "$work/$name.yaml" --inference --weights "$ckpt" \
    --runtime-weights -o "$work/u.c"
usage_error "--inference with -d" "$work/$name.yaml" --inference --weights "$ckpt" -d lower
usage_error "an n-gram spec (no network)" "$src/specs/ngram.yaml" --inference --weights "$ckpt" -o "$work/u.c"
