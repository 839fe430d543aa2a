#!/usr/bin/env bash
# ngram_arpa.sh TRAINER DATA WORKDIR: ARPA interchange of the counted n-gram
# model. A golden check on a tiny corpus made here (mle, order 2: every
# number is a ratio of small counts); a round trip on DATA (export, score
# the ARPA file: the same cross-entropy to 1e-9 relative, the same
# samples); malformed files refused with file:line, exit 1, no crash; add_k
# refused; when NLTK is installed (python3-nltk), the mle bigram entries
# equal nltk.lm.MLE's on a text made here; and, when KenLM's Python
# module is installed, KenLM scores the
# exported file as rnnc does (skipped with a message otherwise).
set -euo pipefail
E2E_NAME=ngram_arpa
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 3 ] || { echo "usage: $0 TRAINER DATA WORKDIR" >&2; exit 2; }
trainer=$1 work=$3
pick_data "$2"
fresh_dir "$work"

# ---- golden: "abababab", split 0.5: train <s> a b a b </s>, valid abab ----
printf 'abababab' >"$work/tiny.txt"
tiny=(--data "$work/tiny.txt" --order 2 --smoothing mle --split 0.5)
must "tiny train" "$work/tiny.log" "$trainer" train "${tiny[@]}" --out "$work/tiny.ngram"
must "tiny export" "$work/tiny_export.log" "$trainer" export-arpa --model "$work/tiny.ngram" --out "$work/tiny.arpa"
no_tmp "$work" "export-arpa"
cat "$work/tiny.arpa"
T=$'\t'
expect_line() {
    grep -qxF -- "$1" "$work/tiny.arpa" || fail "tiny.arpa lacks the line '$1'"
}
[ "$(head -n 3 "$work/tiny.arpa")" = $'\\data\\\nngram 1=5\nngram 2=4' ] \
    || fail "header is not '\\data\\ / ngram 1=5 / ngram 2=4'"
[ "$(tail -n 1 "$work/tiny.arpa")" = '\end\' ] || fail "no \\end\\ at the end"
expect_line '\1-grams:'
expect_line '\2-grams:'
expect_line "-99${T}<unk>"                     # mle: never seen
expect_line "-0.397940008672038${T}a${T}-99"   # log10(2/5); every b follows a
expect_line "-0.698970004336019${T}</s>"       # log10(1/5)
expect_line "0${T}a b"                         # log10(2/2)
expect_line "-0.301029995663981${T}b a"        # log10(1/2)
expect_line "-0.301029995663981${T}b </s>"
say "ok: golden header and entries"

must "tiny eval (model)" "$work/tiny_em.log" "$trainer" eval --data "$work/tiny.txt" --model "$work/tiny.ngram"
must "tiny eval (arpa)" "$work/tiny_ea.log" "$trainer" eval --data "$work/tiny.txt" --arpa "$work/tiny.arpa" --split 0.5
xent() { grep -oE 'cross-entropy [-0-9.e+]+' "$1" | awk '{print $2}'; }
tm=$(xent "$work/tiny_em.log") ta=$(xent "$work/tiny_ea.log")
fcmp "($ta - $tm)^2 <= (1e-9 * $tm)^2" || fail "tiny: ARPA gives $ta nats, the model $tm"

# A character model with spaces writes them as <space>.
printf 'ab ab ba ab ba ba ab ab' >"$work/space.txt"
must "space train" "$work/space.log" "$trainer" train --data "$work/space.txt" --normalize none --order 3 --out "$work/space.ngram"
must "space export" "$work/space_export.log" "$trainer" export-arpa --model "$work/space.ngram" --out "$work/space.arpa"
grep -qP '\t<space>(\t|$)' "$work/space.arpa" || fail "no <space> 1-gram in space.arpa"
awk -F'[ \t]+' '/^\\[0-9]-grams:/ { m = substr($0, 2, 1) + 0; next }
    /^$/ || /^\\/ || /^ngram / { next }
    m && (NF < m + 1 || NF > m + 2) { print "bad line " NR ": " $0; bad = 1 }
    END { exit bad }' "$work/space.arpa" || fail "an entry of space.arpa has the wrong number of fields"
say "ok: the space is the token <space>; every entry has its fields"

# ---- round trip on the corpus ----
model=$work/model.ngram
must "train" "$work/train.log" "$trainer" train "${DATA[@]}" --out "$model"
must "export" "$work/export.log" "$trainer" export-arpa --model "$model" --out "$work/model.arpa"
cat "$work/export.log"
must "eval (model)" "$work/eval_model.log" "$trainer" eval "${DATA[@]}" --model "$model"
must "eval (arpa)" "$work/eval_arpa.log" "$trainer" eval "${DATA[@]}" --arpa "$work/model.arpa"
xm=$(xent "$work/eval_model.log") xa=$(xent "$work/eval_arpa.log")
[ -n "$xm" ] && [ -n "$xa" ] || fail "eval printed no cross-entropy"
fcmp "($xa - $xm)^2 <= (1e-9 * $xm)^2" || fail "round trip: ARPA gives $xa nats per token, the model $xm"
say "ok: round trip: cross-entropy $xm (model) vs $xa (ARPA)"
must "sample (model)" "$work/sm.txt" "$trainer" sample --model "$model" --prefix "the " --len 80 --seed 7
must "sample (arpa)" "$work/sa.txt" "$trainer" sample --arpa "$work/model.arpa" --prefix "the " --len 80 --seed 7
cmp -s "$work/sm.txt" "$work/sa.txt" || fail "the same seed samples differently from the ARPA file"
# export of the imported model's source again is byte-identical
must "export again" "$work/export2.log" "$trainer" export-arpa --model "$model" --out "$work/model2.arpa"
cmp -s "$work/model.arpa" "$work/model2.arpa" || fail "two exports of one model differ"

# ---- malformed files: file:line, exit 1 ----
A=$work/tiny.arpa
bad_arpa() { # NAME EXPECTED-LOCATION-AND-WORDS SED-SCRIPT
    local name=$1 want=$2 f=$work/bad_$1.arpa
    sed -e "$3" "$A" >"$f"
    expect_refusal "$name" "$work/bad_$name.log" "$trainer" eval --data "$work/tiny.txt" --arpa "$f" --split 0.5
    local code=0
    "$trainer" eval --data "$work/tiny.txt" --arpa "$f" --split 0.5 >/dev/null 2>&1 || code=$?
    [ "$code" -eq 1 ] || fail "$name: exit $code, expected 1"
    grep -qF -- "bad_$name.arpa:$want" "$work/bad_$name.log" || fail "$name: message lacks 'bad_$name.arpa:$want': $(cat "$work/bad_$name.log")"
}
bad_arpa count       '2: error: expected '"'"'ngram N=COUNT'"'" 's/^ngram 1=5$/ngram 1=five/'
bad_arpa order_gap   '3: error: order 3' 's/^ngram 2=4$/ngram 3=4/'
bad_arpa no_data     ' error: no' '/^\\data\\$/d'
bad_arpa no_section  "12: error: expected '\\2-grams:'" '/^\\2-grams:$/d'
bad_arpa not_number  "8: error: the log10 probability 'x0.69' is not a number" 's/^-0.698970004336019/x0.69/'
bad_arpa nan         "8: error: the log10 probability 'nan' is not a number" 's/^-0.698970004336019/nan/'
bad_arpa bad_backoff "10: error: the backoff weight '-9e' is not a number" '10s/-99$/-9e/'
bad_arpa wrong_order "14: error: 4 fields" '14s/a b$/a b a/'
bad_arpa short_line  "14: error: a 2-gram line" '14s/a b$/a/'
bad_arpa more        "16: error: more 2-grams" 's/^ngram 2=4$/ngram 2=3/'
bad_arpa fewer       "17: error: the \\2-grams: section ends after 4 entries" 's/^ngram 2=4$/ngram 2=5/'
bad_arpa no_end      "17: error: the file ends without" '/^\\end\\$/d'
bad_arpa unknown     "15: error: 'z' is not one of the 1-grams" '15s/b a$/b z/'
bad_arpa pad         "15: error: '<pad>' is not one of the 1-grams" '15s/b a$/b <pad>/'
bad_arpa twice       "15: error: this 2-gram is listed twice" '15s/b a$/a b/'
bad_arpa dup_unigram "10: error: 1-gram 'a' is listed twice" '10s/\tb\t/\ta\t/'
bad_arpa positive    "8: error: log10 probability 0.5 is above 0" 's/^-0.698970004336019/0.5/'
: >"$work/empty.arpa"
expect_refusal "an empty file" "$work/empty.log" "$trainer" eval --data "$work/tiny.txt" --arpa "$work/empty.arpa"
expect_refusal "a model file as ARPA" "$work/binary.log" "$trainer" eval --data "$work/tiny.txt" --arpa "$work/tiny.ngram"
expect_refusal "a missing file" "$work/missing.log" "$trainer" eval --data "$work/tiny.txt" --arpa "$work/none.arpa"

# add_k does not back off: no ARPA form.
must "add_k train" "$work/addk.log" "$trainer" train --data "$work/tiny.txt" --order 2 --smoothing add_k --out "$work/addk.ngram"
expect_refusal "export of add_k" "$work/addk_export.log" "$trainer" export-arpa --model "$work/addk.ngram" --out "$work/addk.arpa"
[ ! -e "$work/addk.arpa" ] || fail "a refused export left $work/addk.arpa"

# ---- KenLM, when present ----
if python3 -c 'import kenlm' 2>/dev/null; then
    # tiny's validation split "abab" is one sentence <s> a b a b </s>
    k=$(python3 -c 'import kenlm, sys; print(kenlm.Model(sys.argv[1]).score("a b a b", bos=True, eos=True))' "$A")
    fcmp "((-$k * log(10) / 5) - $tm)^2 <= (1e-6 * $tm)^2" \
        || fail "KenLM scores tiny.arpa at $k log10 in all, rnnc at $tm nats per token"
    kx=$(python3 - "$work/model.arpa" <<'EOF'
import kenlm, sys
m = kenlm.Model(sys.argv[1])
print(m.order)
EOF
)
    [ "$kx" -ge 1 ] || fail "KenLM did not load model.arpa"
    say "ok: KenLM reads both files and scores tiny.arpa as rnnc does"
else
    say "skip: KenLM comparison (the Python module 'kenlm' is not installed; Debian does not package it)"
fi
# ---- NLTK, when present: an independent count of the same text ----
# rnnc's mle bigram entries (log10 count(u w) / count(u), <s> before the
# training split, </s> after it) against nltk.lm.MLE fitted on the same
# padded sentence; unigrams differ by design (NLTK counts <s> too).
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3 # Debian's, where python3-nltk installs
if "$py" -c 'import nltk.lm' 2>/dev/null; then
    "$py" -c 'import random; r = random.Random(7); print("".join(r.choice("abcde") for _ in range(2000)), end="")' >"$work/nltk.txt"
    must "nltk-text train" "$work/nltk_train.log" "$trainer" train --data "$work/nltk.txt" --order 2 --smoothing mle --split 0.5 --out "$work/nltk.ngram"
    must "nltk-text export" "$work/nltk_export.log" "$trainer" export-arpa --model "$work/nltk.ngram" --out "$work/nltk.arpa"
    n=$("$py" - "$work/nltk.txt" "$work/nltk.arpa" <<'PY'
import sys
from nltk.lm import MLE
from nltk.lm.preprocessing import padded_everygram_pipeline
text = open(sys.argv[1]).read()
train = list(text[: len(text) // 2])
grams, vocab = padded_everygram_pipeline(2, [train])
lm = MLE(2)
lm.fit(grams, vocab)
order, checked = 0, 0
for line in open(sys.argv[2]):
    line = line.rstrip("\n")
    if line.startswith("\\"):
        order = int(line[1]) if line[1:2].isdigit() else 0
        continue
    if order != 2 or not line:
        continue
    f = line.split("\t")
    u, w = f[1].split(" ")
    want = lm.score(w, [u])
    got = 10 ** float(f[0])
    if abs(got - want) > 1e-12 * max(want, 1e-300):
        sys.exit("bigram %s %s: rnnc %.17g, NLTK %.17g" % (u, w, got, want))
    checked += 1
print(checked)
PY
) || fail "nltk.lm.MLE disagrees with rnnc's ARPA (above)"
    [ "$n" -ge 25 ] || fail "only $n bigrams compared with NLTK"
    say "ok: $n bigram entries equal nltk.lm.MLE's scores"
else
    say "skip: NLTK comparison (python3-nltk is not installed)"
fi
say "ok: ARPA export, import, round trip and refusals"
