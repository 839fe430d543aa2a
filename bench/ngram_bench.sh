#!/usr/bin/env bash
# ngram_bench.sh: speed and memory of the n-gram baseline on one core. Not
# part of ctest.
#
#   bash bench/ngram_bench.sh [--data FILE] [--order N] [--runs N]
#
# Defaults: --data ../shared/data/tinyshakespeare.txt (relative to the
# repository root), --order 5, --runs 5. The trainer is build/ngram, built
# (Release) from generated/ngram.c, which rnnc emits for specs/ngram.yaml
# (char tokens, split 0.9, modified_kneser_ney); train runs with
# --normalize none. Every run is pinned to CPU 0 with taskset and runs
# under /usr/bin/time -v:
#   train  counting tokens/s = (training tokens + <eos>) / time to count
#          and build the model (smoothing included; reading the corpus and
#          saving the file are not), then scores the validation split once
#   eval   loads the saved model and scores the validation split
# Prints the median of each figure over the runs, the peak RSS of each
# command, and the targets of the n-gram issue: counting >= 5 M tokens/s,
# scoring >= 15 M tokens/s, peak RSS <= 50 MB.
set -euo pipefail
cd "$(dirname -- "$0")/.."
root=$PWD

data=$root/../shared/data/tinyshakespeare.txt order=5 runs=5
while [ $# -gt 0 ]; do
    case "$1" in
    --data) data=${2:?--data needs a path}; shift 2 ;;
    --order) order=${2:?--order needs a value}; shift 2 ;;
    --runs) runs=${2:?--runs needs a value}; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ngram_bench: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done
[ -r "$data" ] || { echo "ngram_bench: error: no data at $data (pass --data FILE)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "ngram_bench: error: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)

build=${BUILD_DIR:-build}
printf '==> building the n-gram trainer from generated/ngram.c (%s, Release)\n' "$build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target ngram -j2 >/dev/null
driver=$build/ngram

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model=$work/bench.ngram

# field LABEL FILE: the number before "M tokens/s" on the line with LABEL
field() { grep -- "$1" "$2" | head -1 | sed 's/.* \([0-9.]*\) M tokens\/s.*/\1/'; }
rss() { awk '/Maximum resident set size/ {printf "%.1f", $NF / 1024}' "$1"; }
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

: >"$work/count" >"$work/score_train" >"$work/score_eval" >"$work/rss_train" >"$work/rss_eval"
printf '==> %d runs: %s train --order %s, then eval (%s)\n' "$runs" "$driver" "$order" "${pin[*]:-not pinned}"
for i in $(seq "$runs"); do
    /usr/bin/time -v "${pin[@]}" "$driver" train --data "$data" --order "$order" \
        --normalize none --out "$model" >"$work/out" 2>"$work/err" || { cat "$work/out" "$work/err" >&2; exit 1; }
    [ "$i" = 1 ] && sed -n '1,3p' "$work/out" && grep 'validation perplexity' "$work/out"
    field 'counted' "$work/out" >>"$work/count"
    field 'validation perplexity' "$work/out" >>"$work/score_train"
    rss "$work/err" >>"$work/rss_train"; echo >>"$work/rss_train"
    /usr/bin/time -v "${pin[@]}" "$driver" eval --model "$model" --data "$data" \
        >"$work/out" 2>"$work/err" || { cat "$work/out" "$work/err" >&2; exit 1; }
    field 'validation perplexity' "$work/out" >>"$work/score_eval"
    rss "$work/err" >>"$work/rss_eval"; echo >>"$work/rss_eval"
done

count=$(median <"$work/count")
score_train=$(median <"$work/score_train")
score_eval=$(median <"$work/score_eval")
rss_train=$(median <"$work/rss_train")
rss_eval=$(median <"$work/rss_eval")
verdict() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN {ok = dir == ">" ? v >= t : v <= t; print ok ? "ok" : "BELOW TARGET"}'; }
printf '\n%-34s %10s   %s\n' "median of $runs runs" "value" "target"
printf '%-34s %10s   >= 5 M tokens/s   %s\n' "counting (count + smoothing), M/s" "$count" "$(verdict "$count" 5 '>')"
printf '%-34s %10s   >= 15 M tokens/s  %s\n' "scoring after train, M tokens/s" "$score_train" "$(verdict "$score_train" 15 '>')"
printf '%-34s %10s   >= 15 M tokens/s  %s\n' "scoring after load (eval), M/s" "$score_eval" "$(verdict "$score_eval" 15 '>')"
printf '%-34s %10s   <= 50 MB          %s\n' "peak RSS train, MB" "$rss_train" "$(verdict "$rss_train" 50 '<')"
printf '%-34s %10s   <= 50 MB          %s\n' "peak RSS eval, MB" "$rss_eval" "$(verdict "$rss_eval" 50 '<')"
