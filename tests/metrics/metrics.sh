#!/usr/bin/env bash
# metrics.sh LM TAGGER CLASSIFIER S2S S2S_TOOL PLOT SRC DATA WORK: --metrics
# on every trainer and rnnc-plot (README "Training metrics").
#   every trainer   the file parses as JSON lines with every key, steps
#                   never go back; LM: eval records with val_ppl, tagger and
#                   classifier: val_acc, seq2seq: epoch records
#   --resume        appends: a run stopped by --max-steps and resumed gives
#                   the records of a straight run (the same steps and kinds);
#                   records after the checkpoint's step (a killed run's) and
#                   a line cut short are dropped
#   SIGINT          exit 130 with whole lines up to the saved step; resumed,
#                   the train records are steps 1, 2, 3, ... (--metrics-every 1)
#   bad paths       a missing directory or a directory: exit 3 naming the
#                   path; a file that is not a metrics file: exit 1, the
#                   file unchanged
#   rnnc-plot       valid SVG with curves (python3 xml.etree); a bad line
#                   is exit 1 at path:line:col; skipped without the tool
set -euo pipefail
E2E_NAME=metrics
. "$(dirname -- "$0")/../e2e/lib.sh"
[ $# -eq 9 ] || { echo "usage: $0 LM TAGGER CLASSIFIER S2S S2S_TOOL PLOT SRC DATA WORK" >&2; exit 2; }
lm=$1 tagger=$2 classifier=$3 s2s=$4 s2s_tool=$5 plot=$6 src=$7 data=$8 work=$9
fresh_dir "$work"
here=$(dirname -- "$0")
check() { python3 "$here/check_jsonl.py" "$@" || fail "$1 is not a valid metrics file"; }

# the language model: a small corpus, 2 epochs
if [ -r "$data" ]; then head -c 60000 "$data" >"$work/text.txt"; else
    say "note: $data is absent; the text is the Debian license texts"
    (set +o pipefail; cat /usr/share/common-licenses/* | head -c 60000) >"$work/text.txt"; fi
lmrun() { "$lm" train --data "$work/text.txt" --epochs 2 --sample-len 0 --quiet "$@" >/dev/null; }
lmrun --ckpt "$work/a.ckpt" --metrics "$work/straight.jsonl" --metrics-every 5
check "$work/straight.jsonl" val_ppl 2
# stopped and resumed: the same records, step for step
lmrun --ckpt "$work/b.ckpt" --metrics "$work/resumed.jsonl" --metrics-every 5 --max-steps 12
steps=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["step"])' \
    "$work/resumed.jsonl")
[ "$steps" = 12 ] || fail "the stopped run's last record is at step $steps, not 12"
# what a run killed after its checkpoint would have left: a later record
# and a line cut short
printf '{"kind":"train","step":9999,"epoch":1,"loss":1}\n{"kind":"tr' >>"$work/resumed.jsonl"
lmrun --ckpt "$work/b.ckpt" --metrics "$work/resumed.jsonl" --metrics-every 5 --resume
check "$work/resumed.jsonl" val_ppl 2
kinds() { python3 -c 'import json,sys
for l in open(sys.argv[1]): r = json.loads(l); print(r["kind"], r["step"])' "$1" | grep -v '^train 12$'; }
diff <(kinds "$work/straight.jsonl") <(kinds "$work/resumed.jsonl") >/dev/null ||
    { diff <(kinds "$work/straight.jsonl") <(kinds "$work/resumed.jsonl") >&2 || true
      fail "stopped and resumed, the records are not a straight run's"; }
say "ok: language model: JSON lines; --resume keeps the checkpoint's history, drops later and cut lines"

# SIGINT mid-run: exit 130, every line written is whole and the last is at
# the saved step, so a resume continues the file without a gap or overlap
"$lm" train --data "$work/text.txt" --epochs 1000 --sample-len 0 --quiet --ckpt "$work/i.ckpt" \
    --metrics "$work/int.jsonl" --metrics-every 1 >/dev/null 2>"$work/int.err" &
pid=$!
for _ in $(seq 1 600); do # until 3 records are out (a guard, not a budget)
    [ "$(wc -l <"$work/int.jsonl" 2>/dev/null || echo 0)" -ge 3 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -s INT "$pid" 2>/dev/null || true
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 130 ] || { cat "$work/int.err" >&2; fail "SIGINT: exit $rc, expected 130"; }
check "$work/int.jsonl" val_ppl 0
lmrun --epochs 1000 --ckpt "$work/i.ckpt" --metrics "$work/int.jsonl" --metrics-every 1 --resume --max-steps 2
check "$work/int.jsonl" val_ppl 0
python3 -c 'import json,sys
s = [json.loads(l)["step"] for l in open(sys.argv[1]) if json.loads(l)["kind"] == "train"]
sys.exit(0 if s == list(range(1, len(s) + 1)) else "train steps %s" % s)' "$work/int.jsonl" ||
    fail "interrupted and resumed, the train records are not steps 1, 2, 3, ..."
say "ok: SIGINT keeps every record written; a resume continues at the next step"

# the task heads
gen() { awk -v task="$1" -v n=300 -v seed=1 -f "$src/tests/e2e/heads_data.awk"; }
gen labelling >"$work/tag.txt"
gen classification >"$work/cls.txt"
"$tagger" train --data "$work/tag.txt" --epochs 2 --ckpt "$work/t.ckpt" --quiet \
    --metrics "$work/tagger.jsonl" --metrics-every 3 >/dev/null
check "$work/tagger.jsonl" val_acc 2
"$classifier" train --data "$work/cls.txt" --epochs 2 --ckpt "$work/c.ckpt" --quiet \
    --metrics "$work/classifier.jsonl" >/dev/null
check "$work/classifier.jsonl" val_acc 2
# seq2seq (no validation loss: epoch records)
"$s2s_tool" toy reverse 400 8 3 6 1 >"$work/rev.txt"
"$s2s" train "$work/rev.txt" --epochs 2 --eval-max 10 --save "$work/s.ckpt" --quiet \
    --metrics "$work/s2s.jsonl" --metrics-every 4 >/dev/null
check "$work/s2s.jsonl" - 2
say "ok: labelling, classification and seq2seq write the same records"

# bad paths: exit 3 naming the path, before any training
bad() { # EXPECTED_RC PATH TEXT
    local rc=0
    "$tagger" train --data "$work/tag.txt" --epochs 1 --ckpt "$work/bad.ckpt" --quiet \
        --metrics "$2" >/dev/null 2>"$work/bad.err" || rc=$?
    [ "$rc" -eq "$1" ] || { cat "$work/bad.err" >&2; fail "--metrics $2: exit $rc, expected $1"; }
    grep -qF -- "$3" "$work/bad.err" || { cat "$work/bad.err" >&2; fail "--metrics $2: expected '$3'"; }
}
bad 3 "$work/no/such/dir/m.jsonl" "'$work/no/such/dir/m.jsonl'"
bad 3 "$work" "'$work': Is a directory"
cp "$work/tag.txt" "$work/keep.txt"
bad 1 "$work/keep.txt" "$work/keep.txt:1: not a record of --metrics"
cmp -s "$work/tag.txt" "$work/keep.txt" || fail "a file that is not a metrics file was changed"
say "ok: a bad --metrics path is exit 3 naming it; another file is not replaced"

# rnnc-plot
if [ ! -x "$plot" ]; then
    say "SKIP: rnnc-plot is not built (Jansson, libjansson-dev, is missing)"
    exit 0
fi
"$plot" "$work/straight.jsonl" --out "$work/lm.svg"
python3 "$here/check_svg.py" "$work/lm.svg" 4 || fail "rnnc-plot: not a valid SVG of the curves"
"$plot" "$work/s2s.jsonl" --out "$work/s2s.svg" --title 'seq2seq <toy> & "reverse"'
python3 "$here/check_svg.py" "$work/s2s.svg" 2 || fail "rnnc-plot: not a valid SVG of the curves"
printf '{"kind":"train","step":1,"epoch":1,"loss":2}\n{"kind":"train","step":2,"loss":}\n' >"$work/broken.jsonl"
rc=0
"$plot" "$work/broken.jsonl" --out "$work/broken.svg" 2>"$work/plot.err" || rc=$?
[ "$rc" -eq 1 ] && grep -qF "$work/broken.jsonl:2:" "$work/plot.err" ||
    { cat "$work/plot.err" >&2; fail "rnnc-plot: a bad line gave exit $rc, not 1 at path:2:col"; }
[ ! -e "$work/broken.svg" ] || fail "rnnc-plot: a failed plot left '$work/broken.svg'"
say "ok: rnnc-plot draws valid SVG; a bad line is an error at path:line:col"
