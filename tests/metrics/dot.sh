#!/usr/bin/env bash
# dot.sh RNNC WORK (in the source tree): `rnnc -d dot:STAGE` for every stage
# of specs/lstm.yaml (lower and memplan of specs/seq2seq.yaml, whose
# graphs take dot seconds each to lay out) is a digraph Graphviz reads
# (`dot -Tsvg`), and `-d STAGE --dot -o FILE` writes the same bytes (two
# runs: deterministic); --dot without -d is exit 2. Skipped (77) without
# Graphviz's dot.
set -euo pipefail
rnnc=${1:?usage: dot.sh RNNC WORK} work=${2:?}
if ! command -v dot >/dev/null 2>&1; then
    echo "rnnc_dot: SKIP: Graphviz's dot is not installed (apt-get install graphviz)"
    exit 77
fi
rm -rf "$work" && mkdir -p "$work"
# the stages: lower, autodiff and the passes --help lists ("a | b | c) to stdout")
stages="lower autodiff $("$rnnc" --help | sed -n 's/^ *\([a-z]*\( | [a-z]*\)*\)) to stdout.*/\1/p' | tr -s " |" " ")"
n=0
for spec in specs/lstm.yaml specs/seq2seq.yaml; do
    # the seq2seq graphs take dot seconds to lay out: the first and last stage
    sts=$stages
    [ "$spec" = specs/lstm.yaml ] || sts="lower memplan"
    for st in $sts; do
        out=$work/$(basename "$spec" .yaml).$st.dot
        "$rnnc" "$spec" -d "dot:$st" >"$out"
        "$rnnc" "$spec" -d "$st" --dot -o "$out.2"
        # two runs, the two spellings: the same bytes (deterministic)
        cmp -s "$out" "$out.2" || { echo "rnnc_dot: $spec $st: -d dot:$st and -d $st --dot -o differ" >&2; exit 1; }
        dot -Tsvg "$out" >"$out.svg" 2>"$out.err" || { cat "$out.err" >&2; echo "rnnc_dot: $spec $st: dot -Tsvg refuses it" >&2; exit 1; }
        grep -q '<svg' "$out.svg" || { echo "rnnc_dot: $spec $st: no SVG from dot" >&2; exit 1; }
        n=$((n + 1))
    done
done
rc=0
"$rnnc" specs/lstm.yaml --dot >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || { echo "rnnc_dot: --dot without -d: exit $rc, expected 2" >&2; exit 1; }
echo "rnnc_dot: ok: $n dumps (stages: $stages) read by dot -Tsvg, deterministic"
