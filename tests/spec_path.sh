#!/usr/bin/env bash
# spec_path.sh RNNC SOURCE_DIR WORKDIR: the emitted C does not depend on
# where the checkout lives (issue 12). specs/ is copied into two checkouts
# at different depths under WORKDIR, and every shipped spec is compiled
#   1. with an absolute path from a cwd outside the checkout, --source-root
#      the checkout (as rnnc_add_model runs it), in each checkout;
#   2. with an absolute path from the checkout root (cwd as the root);
#   3. with a relative path and a relative --source-root from a cwd above
#      the checkout;
#   4. as update-generated.sh does (specs/X.yaml from the root);
# and all of these must be byte-identical to each other and to
# generated/X.c, and must not contain WORKDIR. A spec outside the root
# keeps its absolute path (the header names it). Errors still name the
# path as given (absolute or relative, not rewritten), and an unusable
# --source-root is exit 2 with a message.
set -euo pipefail

fail() { echo "spec_path: FAIL: $*" >&2; exit 1; }
say() { echo "spec_path: $*"; }

[ $# -eq 3 ] || { echo "usage: $0 RNNC SOURCE_DIR WORKDIR" >&2; exit 2; }
rnnc=$(realpath -- "$1") src=$(realpath -- "$2") work=$3
rm -rf -- "$work"
mkdir -p -- "$work"
work=$(realpath -- "$work")
one="$work/one/checkout" two="$work/two/a/b/checkout" out="$work/out"
mkdir -p -- "$one" "$two" "$out"
cp -R -- "$src/specs" "$one/specs"
cp -R -- "$src/specs" "$two/specs"

n=0
for spec in "$src"/specs/*.yaml; do
    name=$(basename -- "$spec" .yaml)
    rel="specs/$name.yaml"
    (cd / && "$rnnc" "$one/$rel" --source-root "$one" -o "$out/$name.abs1.c") || fail "rnnc $one/$rel --source-root $one"
    (cd "$work" && "$rnnc" "$two/$rel" --source-root "$two" -o "$out/$name.abs2.c") || fail "rnnc $two/$rel --source-root $two"
    (cd "$one" && "$rnnc" "$one/$rel" -o "$out/$name.cwd.c") || fail "rnnc $one/$rel from $one"
    (cd "$work/two/a" && "$rnnc" "b/checkout/$rel" --source-root b/checkout -o "$out/$name.above.c") ||
        fail "rnnc b/checkout/$rel --source-root b/checkout from $work/two/a"
    (cd "$two" && "$rnnc" "$rel" -o "$out/$name.rel.c") || fail "rnnc $rel from $two"
    for v in abs1 abs2 cwd above; do
        if ! cmp -s -- "$out/$name.rel.c" "$out/$name.$v.c"; then
            diff -u -- "$out/$name.rel.c" "$out/$name.$v.c" | head -n 40 >&2 || true
            fail "$name: the C from the '$v' run differs from 'rnnc $rel' at the root (diff above)"
        fi
    done
    if grep -qF -- "$work" "$out/$name".*.c; then
        grep -nF -- "$work" "$out/$name".*.c | head -n 5 >&2
        fail "$name: the emitted C names the checkout's location ($work)"
    fi
    grep -qF "from $rel; do not edit." "$out/$name.rel.c" || fail "$name: the header does not name $rel"
    if [ -f "$src/generated/$name.c" ] && ! cmp -s -- "$src/generated/$name.c" "$out/$name.abs1.c"; then
        fail "$name: the C from an absolute path differs from generated/$name.c"
    fi
    n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no specs in $src/specs"
say "ok: $n specs: the same bytes from 5 invocations in 2 checkouts, and equal to generated/"

# A spec outside the root keeps its path as given.
(cd "$work" && "$rnnc" "$one/specs/gru.yaml" --source-root "$two" -o "$out/outside.c") || fail "rnnc outside the root"
grep -qF "from $one/specs/gru.yaml; do not edit." "$out/outside.c" ||
    fail "a spec outside --source-root is not named by its absolute path"
say "ok: a spec outside --source-root keeps its absolute path"

# Errors name the path as given, whatever the root.
cp -- "$src/tests/errors/01_bad_indent.yaml" "$one/specs/bad.yaml"
want=$(sed -n '1s/^# expect: //p' "$src/tests/errors/01_bad_indent.yaml")
check_error() { # CWD SHOWN ARGS...: exit 1, stderr starts with SHOWN:want
    local cwd=$1 shown=$2 rc=0
    shift 2
    (cd "$cwd" && "$rnnc" "$@" -o "$out/bad.c") 2>"$out/bad.err" || rc=$?
    [ "$rc" -eq 1 ] || { cat "$out/bad.err" >&2; fail "rnnc $*: exit $rc, expected 1"; }
    grep -qF -- "$shown:$want" "$out/bad.err" || { cat "$out/bad.err" >&2; fail "rnnc $*: the error does not name '$shown:$want'"; }
    [ ! -e "$out/bad.c" ] || fail "rnnc $*: wrote output for a bad spec"
}
check_error / "$one/specs/bad.yaml" "$one/specs/bad.yaml" --source-root "$one"
check_error "$one" "./specs/../specs/bad.yaml" ./specs/../specs/bad.yaml
check_error "$work/one" "checkout/specs/bad.yaml" checkout/specs/bad.yaml --source-root checkout
say "ok: errors name the spec path as given"

rc=0
"$rnnc" "$one/specs/gru.yaml" --source-root "$work/missing" -o "$out/missing.c" 2>"$out/missing.err" || rc=$?
[ "$rc" -eq 2 ] || fail "--source-root of a missing directory: exit $rc, expected 2"
grep -qF -- "$work/missing" "$out/missing.err" || fail "--source-root of a missing directory: the message does not name it"
"$rnnc" --help | grep -q -- "--source-root" || fail "--help does not describe --source-root"
say "ok: a missing --source-root is exit 2 naming it"

# A path with a quote, a backslash and a comment closer ('x*' + '/') still
# emits C that compiles: strings escaped, comments cleaned.
odd="$work/we\"ird\\x*"
mkdir -p -- "$odd"
for name in gru seq2seq ngram; do
    cp -- "$src/specs/$name.yaml" "$odd/$name.yaml"
    (cd / && "$rnnc" "$odd/$name.yaml" -o "$out/odd_$name.c") || fail "rnnc on a spec under $odd"
    ${CC:-cc} -fsyntax-only -I"$src/runtime" "$out/odd_$name.c" 2>"$out/odd_$name.err" ||
        { head -n 5 "$out/odd_$name.err" >&2; fail "the C emitted for $odd/$name.yaml does not compile"; }
done
say "ok: a spec path with '\"', '\\' and '*/' emits C that compiles"
