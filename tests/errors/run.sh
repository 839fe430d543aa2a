#!/usr/bin/env bash
# run.sh RNNC SRCDIR: the bad-spec corpus.
#
# Every tests/errors/*.yaml is a spec with one defect. Its first line says
# which diagnostic rnnc must print:
#
#   # expect: LINE:COL: error: MESSAGE-PREFIX
#
# For each case, rnnc FILE -o OUT.c must exit with 1, print
# "FILE:LINE:COL: error: MESSAGE-PREFIX" and a caret line on stderr, print
# no sanitizer report, and leave nothing at OUT.c (not even a temp file).
#
# A case whose second line is "# rnnc: OPTIONS" runs rnnc with those
# options too (e.g. the test-only --test-bidirectional, which lowers a
# language model as bidirectional; no case needs one today).
#
# Some defects cannot be committed as text (an empty file has no room for the
# expect line; a NUL byte, bad UTF-8, a UTF-16 BOM, a lone CR and a 5 KB line
# are fragile in git and editors), so gen_cases() writes them into a temp dir
# each run. A generated case whose first line cannot be the expect comment
# gets its expectation from a NAME.expect file next to it.
set -u

rnnc=${1:?usage: run.sh RNNC SRCDIR}
srcdir=${2:?usage: run.sh RNNC SRCDIR}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rnnc-errors.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/gen" "$tmp/out"

# A copy of specs/rnn.yaml after an expect line, without its title comment.
spec_body() { tail -n +2 "$srcdir/specs/rnn.yaml"; }

gen_cases() {
    local g=$tmp/gen
    : >"$g/g01_empty_file.yaml"
    echo "1:1: error: expected exactly one mapping document" >"$g/g01_empty_file.expect"

    # UTF-16LE: BOM, then "model: rnn\n" as 16-bit units.
    printf '\xff\xfem\0o\0d\0e\0l\0:\0 \0r\0n\0n\0\n\0' >"$g/g02_utf16_bom.yaml"
    echo "1:1: error: file starts with a UTF-16 byte order mark" >"$g/g02_utf16_bom.expect"

    { echo "# expect: 2:10: error: control characters are not allowed 0x00"
      spec_body | sed '1s/^model: rnn$/model: rn\x00n/'; } >"$g/g03_nul_byte.yaml"

    { echo "# expect: 2:11: error: invalid leading UTF-8 octet 0xFF"
      spec_body | sed '1s/^model: rnn$/model: rnn\xff/'; } >"$g/g04_invalid_utf8.yaml"

    { echo "# expect: 2:11: error: invalid trailing UTF-8 octet 0x0A"
      spec_body | sed '1s/^model: rnn$/model: rnn\xc3/'; } >"$g/g05_truncated_utf8.yaml"

    { echo "# expect: 2:8: error: scalar is too long (5000 bytes; the limit is 4096)"
      printf 'model: %s\n' "$(head -c 5000 /dev/zero | tr '\0' a)"
      spec_body | tail -n +2; } >"$g/g06_long_scalar.yaml"

    { echo "# expect: 2:11: error: unsupported line break: a carriage return without a line feed"
      printf 'model: rnn\rtask: language_model\n'
      spec_body | tail -n +3; } >"$g/g07_lone_cr.yaml"
}

# The expectation of a case: NAME.expect if present, else its first line.
expectation() {
    local file=$1 side=${1%.yaml}.expect
    if [[ -f $side ]]; then
        head -n 1 "$side"
    else
        head -n 1 "$file" | sed -n 's/^# expect: //p'
    fi
}

pass=0
fail=0

# check FILE: run rnnc on it and compare with its expectation.
check() {
    local file=$1 name want err rc why= opts
    name=$(basename "$file" .yaml)
    read -r -a opts <<<"$(sed -n '2s/^# rnnc: //p' "$file")"
    want=$(expectation "$file")
    err=$tmp/stderr
    rm -rf "$tmp/out" && mkdir "$tmp/out"
    timeout 20 "$rnnc" "${opts[@]}" "$file" -o "$tmp/out/out.c" >/dev/null 2>"$err"
    rc=$?
    if [[ -z $want ]]; then
        why="no '# expect: LINE:COL: error: MESSAGE' on line 1"
    elif [[ $rc -ne 1 ]]; then
        why="exit code $rc, expected 1"
    elif ! grep -qF -- "$file:$want" "$err"; then
        why="stderr lacks '$file:$want'"
    elif ! grep -qE '^ +\| [[:space:]]*\^$' "$err"; then
        why="stderr has no caret line"
    elif grep -qE 'Sanitizer|runtime error:|internal error' "$err"; then
        why="sanitizer report or internal error"
    elif [[ -n $(ls -A "$tmp/out") ]]; then
        why="output written: $(ls -A "$tmp/out" | tr '\n' ' ')"
    fi
    if [[ -z $why ]]; then
        echo "PASS $name"
        pass=$((pass + 1))
    else
        echo "FAIL $name: $why"
        sed 's/^/    | /' "$err" | head -n 20
        fail=$((fail + 1))
    fi
}

gen_cases
for f in "$srcdir"/tests/errors/*.yaml "$tmp"/gen/*.yaml; do
    check "$f"
done
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
