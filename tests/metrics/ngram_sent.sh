#!/usr/bin/env bash
# ngram_sent.sh NGRAM WORK: `ngram eval --sentences [--per-sentence]`, every
# line a sentence <s> ... </s> as KenLM's query scores it.
#   by hand     a bigram ARPA file written here; each sentence's log10
#               probability worked out below, to 1e-12
#   trained     a word model trained on a tiny corpus: its sentence scores
#               equal those of its exported ARPA file read back, and those
#               of an independent ARPA scorer in Python (arpa_query.py), to
#               1e-9 relative
#   errors      --per-sentence without --sentences is exit 2; a file with
#               no lines is exit 1
set -euo pipefail
E2E_NAME=ngram_sent
. "$(dirname -- "$0")/../e2e/lib.sh"
[ $# -eq 2 ] || { echo "usage: $0 NGRAM WORK" >&2; exit 2; }
ngram=$1 work=$2 here=$(dirname -- "$0")
fresh_dir "$work"
T=$'\t'

# ---- by hand ----
cat >"$work/hand.arpa" <<ARPA
\\data\\
ngram 1=5
ngram 2=4

\\1-grams:
-1${T}<unk>
-99${T}<s>${T}-0.5
-0.5${T}a${T}-0.25
-0.75${T}b${T}-0.125
-0.6${T}</s>

\\2-grams:
-0.2${T}<s> a
-0.3${T}a b
-0.4${T}b </s>
-0.35${T}b a

\\end\\
ARPA
# Four lines, the last without its newline; c is not in the model (OOV).
printf 'a b\n\nb a c\nb' >"$work/hand.txt"
# log10 p, backing off with b(h) where an n-gram is missing:
#   "a b"    p(a|<s>) + p(b|a) + p(</s>|b)           = -0.2 - 0.3 - 0.4 = -0.9
#   ""       b(<s>) + p(</s>)                        = -0.5 - 0.6       = -1.1
#   "b a c"  b(<s>) + p(b) = -1.25; p(a|b) = -0.35;
#            b(a) + p(<unk>) = -1.25; b(<unk>) + p(</s>) = 0 - 0.6     = -3.45
#   "b"      -1.25 + p(</s>|b) = -1.25 - 0.4                           = -1.65
# total -7.1 over 10 tokens (3 + 1 + 4 + 2, each </s> counted), 1 OOV:
# perplexity 10^0.71, excluding OOVs 10^((7.1 - 1.25) / 9) = 10^0.65
must "hand eval" "$work/hand.log" "$ngram" eval --arpa "$work/hand.arpa" --tokens word --normalize none \
    --data "$work/hand.txt" --sentences --per-sentence
cat "$work/hand.log"
expect() { # N LOG10 TOKENS OOV
    local got
    got=$(awk -v n="$1" '$1 == "sentence" && $2 == n { print $4, $6, $8 }' "$work/hand.log")
    set -- "$@" $got
    [ $# -eq 7 ] || fail "no line for sentence $1"
    fcmp "($5 - ($2))^2 < 1e-24" && [ "$6" = "$3" ] && [ "$7" = "$4" ] ||
        fail "sentence $1: log10prob $5 tokens $6 oov $7, expected $2 $3 $4"
}
expect 1 -0.9 3 0
expect 2 -1.1 1 0
expect 3 -3.45 4 1
expect 4 -1.65 2 0
tot=$(awk '$1 == "sentences" && $2 == "log10prob" { print $3, $5, $9 }' "$work/hand.log")
set -- $tot
[ $# -eq 3 ] || fail "no totals line"
fcmp "($1 + 7.1)^2 < 1e-24 && ($2 - 10^0.71)^2 < 1e-10 && ($3 - 10^0.65)^2 < 1e-10" ||
    fail "totals: log10prob $1 perplexity $2 excluding OOVs $3, expected -7.1, 10^0.71 and 10^0.65"
say "ok: the hand-computed sentence scores, totals and perplexities"

# ---- a trained model, its ARPA file, and an independent scorer ----
{ for i in $(seq 1 40); do echo "the cat sat on the mat"; echo "a dog sat on a log"; echo "the dog ate"; done; } >"$work/train.txt"
printf 'the cat sat\nthe dog sat on the log\n\na bird sat on the mat\n' >"$work/test.txt"
must "train" "$work/train.log" "$ngram" train --data "$work/train.txt" --tokens word --normalize none \
    --order 3 --smoothing kneser_ney --out "$work/w.ngram"
must "export" "$work/export.log" "$ngram" export-arpa --model "$work/w.ngram" --out "$work/w.arpa"
must "model" "$work/m.log" "$ngram" eval --model "$work/w.ngram" --data "$work/test.txt" --sentences --per-sentence
must "arpa" "$work/a.log" "$ngram" eval --arpa "$work/w.arpa" --tokens word --normalize none \
    --data "$work/test.txt" --sentences --per-sentence
python3 "$here/arpa_query.py" "$work/w.arpa" "$work/test.txt" >"$work/py.txt"
scores() { awk '$1 == "sentence" { print $4 } $1 == "sentences" && $2 == "log10prob" { print $3 }' "$1"; }
paste <(scores "$work/m.log") <(scores "$work/a.log") "$work/py.txt" >"$work/cmp.txt"
cat "$work/cmp.txt"
[ "$(wc -l <"$work/cmp.txt")" -eq 5 ] || fail "expected 4 sentences and a total"
while read -r m a p; do
    fcmp "($m - $a)^2 <= (1e-9 * $m)^2 && ($m - $p)^2 <= (1e-9 * $m)^2" ||
        fail "model $m, its ARPA file $a, arpa_query.py $p differ"
done <"$work/cmp.txt"
say "ok: a trained model, its ARPA file and an independent scorer agree sentence by sentence"

# ---- errors ----
rc=0
"$ngram" eval --model "$work/w.ngram" --data "$work/test.txt" --per-sentence >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "--per-sentence without --sentences: exit $rc, expected 2"
: >"$work/empty.txt"
rc=0
"$ngram" eval --model "$work/w.ngram" --data "$work/empty.txt" --sentences >/dev/null 2>"$work/empty.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "no lines" "$work/empty.err" || fail "an empty file: exit $rc, expected 1 ('no lines')"
say "ok: usage and empty-file errors"
