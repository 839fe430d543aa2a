#!/usr/bin/env bash
# toy_reverse.sh TRAINER S2S_TOOL WORKDIR: the seq2seq trainer learns to
# reverse short token sequences (4000 pairs of 3-6 tokens over 8 symbols,
# the last 10% held out) to >= 99% exact match, greedy and beam, in a few
# seconds.
set -eu
trainer=${1:?usage: toy_reverse.sh TRAINER S2S_TOOL WORKDIR}
tool=${2:?}
work=${3:?}
mkdir -p "$work"
"$tool" toy reverse 4000 8 3 6 1 >"$work/reverse.txt"
"$trainer" train "$work/reverse.txt" --eval-max 400 | tee "$work/out.txt"
for kind in greedy beam; do
    em=$(sed -n "s/^$kind: .*exact match \([0-9.]*\) .*/\1/p" "$work/out.txt")
    if [ -z "$em" ] || ! awk -v e="$em" 'BEGIN { exit !(e >= 0.99) }'; then
        echo "toy_reverse: $kind exact match '${em}' is below 0.99" >&2
        exit 1
    fi
done
echo "toy_reverse: ok"
