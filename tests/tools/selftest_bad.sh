#!/usr/bin/env bash
# selftest_bad.sh CHECKER RUNTIME_DIR FIXTURE: check_emitted must fail on the
# bad fixture with exit 1 and report each planted violation at its line.
set -euo pipefail
checker=$1 runtime=$2 fixture=$3
set +e
out=$("$checker" "$fixture" -I "$runtime" 2>&1)
rc=$?
set -e
printf '%s\n' "$out"
[ "$rc" -eq 1 ] || { echo "selftest: FAIL: expected exit 1 from check_emitted, got $rc" >&2; exit 1; }
f=$(basename -- "$fixture")
for want in \
    "$f:18:[0-9]+: error: 'calloc' in x_forward" \
    "$f:13:[0-9]+: error: 'malloc' in x_scratch, .*\(x_forward -> x_scratch\)" \
    "$f:26:[0-9]+: error: 'free' in x_backward" \
    "$f:8:[0-9]+: error: mutable file-scope variable 'x_calls'" \
    "$f:9:[0-9]+: error: mutable file-scope variable 'x_label'" \
    "FAIL .*5 problem"; do
    if ! grep -Eq -- "$want" <<<"$out"; then
        echo "selftest: FAIL: check_emitted did not report /$want/" >&2
        exit 1
    fi
done
echo "selftest: ok: check_emitted caught all 5 planted violations"
