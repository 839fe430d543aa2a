#!/usr/bin/env bash
# quickstart.sh: README quick-start command 1 -- the main job, end to end.
#
#   bash scripts/quickstart.sh [--data PATH] [--epochs N]
#
#   1. installs what is missing (scripts/install-deps.sh);
#   2. builds rnnc and librnnrt (cmake, Release) into build/;
#   3. compiles specs/rnn.yaml with rnnc into build/quickstart/rnn.c;
#   4. compiles that C file with cc against librnnrt and OpenBLAS;
#   5. trains it with the spec's recipe, but for 10 epochs instead of the
#      spec's 20 (about a minute on 2 cores), on the Debian license texts in
#      /usr/share/common-licenses, or on --data PATH;
#   6. prints the validation perplexity and a 200-character sample from the
#      saved checkpoint.
set -euo pipefail
cd "$(dirname -- "$0")/.."

epochs=10
data=()
while [ $# -gt 0 ]; do
    case "$1" in
    --data) [ $# -ge 2 ] || { echo "quickstart: --data needs a path" >&2; exit 2; }
            data=(--data "$2"); shift 2 ;;
    --epochs) [ $# -ge 2 ] || { echo "quickstart: --epochs needs a number" >&2; exit 2; }
              epochs=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "quickstart: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done
case "$epochs" in ''|*[!0-9]*|0) echo "quickstart: --epochs wants a positive integer, got '$epochs'" >&2; exit 2 ;; esac

build=build
out=$build/quickstart
step() { printf '\n==> %s\n' "$*"; }
run() { printf '+'; printf ' %q' "$@"; printf '\n'; "$@"; }

step "checking dependencies"
bash scripts/install-deps.sh

step "building rnnc and librnnrt ($build, Release)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target rnnc rnnrt
[ -f "$build/librnnrt.a" ] || { echo "quickstart: error: $build/librnnrt.a was not built" >&2; exit 1; }
mkdir -p "$out"

step "compiling the spec: specs/rnn.yaml -> $out/rnn.c"
run "$build/rnnc" specs/rnn.yaml -o "$out/rnn.c"
echo "($(wc -l <"$out/rnn.c") lines of C; the same file is checked in as generated/rnn.c)"

step "compiling the C into a trainer: $out/rnn"
# shellcheck disable=SC2046  # pkg-config prints several words on purpose
run cc -std=c11 -O2 -march=native -I runtime "$out/rnn.c" -L "$build" -lrnnrt $(pkg-config --libs openblas jansson) -lm -o "$out/rnn"

if [ ${#data[@]} -eq 0 ]; then
    what="the Debian license texts in /usr/share/common-licenses"
else
    what="${data[1]}"
fi
step "training on $what for $epochs epoch(s)"
rm -f "$out/rnn.ckpt"
run "$out/rnn" train "${data[@]}" --epochs "$epochs" --sample-len 0 --ckpt "$out/rnn.ckpt" | tee "$out/train.log"

result=$(grep '^RESULT' "$out/train.log" | tail -n 1 || true)
ppl=$(sed -n 's/.*val_ppl=\([^ ]*\).*/\1/p' <<<"$result")
toks=$(sed -n 's/.*train_tok_s=\([^ ]*\).*/\1/p' <<<"$result")

step "a 200-character sample from the trained model ($out/rnn.ckpt)"
run "$out/rnn" sample --ckpt "$out/rnn.ckpt" --prefix "the " --len 200
echo

step "done"
echo "validation perplexity: ${ppl:-(not reported)}   training speed: ${toks:-?} tokens/s"
echo "trainer: $out/rnn   checkpoint: $out/rnn.ckpt   log: $out/train.log"
echo "more: $out/rnn --help;  all tests: bash scripts/test.sh"
