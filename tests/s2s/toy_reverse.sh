#!/usr/bin/env bash
# toy_reverse.sh TRAINER S2S_TOOL WORKDIR: the seq2seq trainer learns to
# reverse short token sequences (4000 pairs of 3-6 tokens over 8 symbols,
# the last 10% held out) to >= 99% exact match, greedy and beam, in a few
# seconds; its checkpoint reloads for eval (the same scores) and translate
# (stdin -> stdout, unknown words and empty lines too, --attention CSV
# and SVG); decoding through the emitted step gives what rerunning the
# training forward over each prefix gives (--rerun-decode): the same
# scores and translations, greedy and beam, and attention weights equal
# to float rounding (OpenBLAS rounds a product of B rows and one of T*B
# rows differently); a damaged checkpoint is an error, not a crash.
set -eu
trainer=${1:?usage: toy_reverse.sh TRAINER S2S_TOOL WORKDIR}
tool=${2:?}
work=${3:?}
mkdir -p "$work"
rm -f "$work/ck.bin"
"$tool" toy reverse 4000 8 3 6 1 >"$work/reverse.txt"
"$trainer" train "$work/reverse.txt" --eval-max 400 --save "$work/ck.bin" | tee "$work/out.txt"
check() { # FILE: both exact-match rates >= 0.99
    for kind in greedy beam; do
        em=$(sed -n "s/^$kind: .*exact match \([0-9.]*\) .*/\1/p" "$1")
        if [ -z "$em" ] || ! awk -v e="$em" 'BEGIN { exit !(e >= 0.99) }'; then
            echo "toy_reverse: $kind exact match '${em}' is below 0.99 ($1)" >&2
            exit 1
        fi
    done
}
check "$work/out.txt"
"$trainer" eval "$work/reverse.txt" --model "$work/ck.bin" --eval-max 400 | tee "$work/eval.txt"
check "$work/eval.txt"
diff <(grep -E '^(greedy|beam):' "$work/out.txt") <(grep -E '^(greedy|beam):' "$work/eval.txt")
rm -f "$work/att.csv" "$work/att.svg"
printf 'a b c d\nh g f e\n\nzz qq\n' | "$trainer" translate --model "$work/ck.bin" --beam 4 \
    --attention "$work/att.csv" >"$work/tr.txt"
[ "$(head -1 "$work/att.csv")" = "sentence 1,a,b,c,d,<eos>" ] || { echo "toy_reverse: bad attention CSV" >&2; exit 1; }
[ "$(grep -c '^sentence ' "$work/att.csv")" -eq 4 ] && grep -q '^<svg' "$work/att.svg" ||
    { echo "toy_reverse: attention CSV/SVG incomplete" >&2; exit 1; }
[ "$(sed -n 1p "$work/tr.txt")" = "d c b a" ] || { echo "toy_reverse: translate gave '$(sed -n 1p "$work/tr.txt")'" >&2; exit 1; }
[ "$(sed -n 2p "$work/tr.txt")" = "e f g h" ] || { echo "toy_reverse: translate gave '$(sed -n 2p "$work/tr.txt")'" >&2; exit 1; }
[ "$(wc -l <"$work/tr.txt")" -eq 4 ] || { echo "toy_reverse: translate gave $(wc -l <"$work/tr.txt") lines for 4" >&2; exit 1; }
"$trainer" eval "$work/reverse.txt" --model "$work/ck.bin" --eval-max 400 --rerun-decode >"$work/eval_rerun.txt"
diff "$work/eval.txt" "$work/eval_rerun.txt" || { echo "toy_reverse: --rerun-decode scores differ" >&2; exit 1; }
for k in 1 3; do
    rm -f "$work/att_rerun.csv" "$work/att_step.csv"
    sed -n '3601,3640p' "$work/reverse.txt" | cut -f1 >"$work/src.txt"
    printf 'a b c d\nh g f e\n\nzz qq\n' >>"$work/src.txt"
    "$trainer" translate --model "$work/ck.bin" --beam $k --attention "$work/att_step.csv" <"$work/src.txt" >"$work/tr_step.txt"
    "$trainer" translate --model "$work/ck.bin" --beam $k --attention "$work/att_rerun.csv" --rerun-decode \
        <"$work/src.txt" >"$work/tr_rerun.txt"
    diff "$work/tr_step.txt" "$work/tr_rerun.txt" || { echo "toy_reverse: --rerun-decode translates otherwise (beam $k)" >&2; exit 1; }
    paste -d'\n' "$work/att_step.csv" "$work/att_rerun.csv" | awk -F, -v k=$k '
        NR % 2 { a = $0; na = NF; split($0, x, ","); next }
        { if (NF != na) { print "toy_reverse: attention CSV rows differ in length (beam " k ")"; bad = 1; exit 1 }
          for (i = 2; i <= NF; i++) {
              if (x[i] ~ /^[0-9.e+-]+$/) { d = x[i] - $i; if (d < 0) d = -d; if (d > 1e-5) { print "toy_reverse: attention " x[i] " vs " $i " (beam " k ")"; bad = 1; exit 1 } }
              else if (x[i] != $i) { print "toy_reverse: attention CSV labels differ (beam " k ")"; bad = 1; exit 1 } } }
        END { exit bad }' >&2
    [ "$(wc -l <"$work/att_step.csv")" -eq "$(wc -l <"$work/att_rerun.csv")" ] || { echo "toy_reverse: attention CSVs differ in length" >&2; exit 1; }
done
set +e # --attention - is refused: stdout holds the translations, the heatmap needs a name
"$trainer" translate --model "$work/ck.bin" --attention - <"$work/src.txt" >"$work/att_dash.out" 2>"$work/att_dash.err"
rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q -- "--attention -" "$work/att_dash.err" && [ ! -e ./-.svg ] ||
    { cat "$work/att_dash.err" >&2; echo "toy_reverse: --attention - gave exit $rc" >&2; exit 1; }
head -c 200 "$work/ck.bin" >"$work/damaged.bin"
set +e
"$trainer" translate --model "$work/damaged.bin" </dev/null 2>"$work/damaged.err"
rc=$?
set -e
[ "$rc" -eq 3 ] && grep -q "damaged.bin" "$work/damaged.err" || { echo "toy_reverse: damaged checkpoint gave exit $rc" >&2; exit 1; }
echo "toy_reverse: ok"
