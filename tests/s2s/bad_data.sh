#!/bin/bash
# bad_data.sh TOOL WORK: every bad parallel corpus is refused with
# `path:line:col: error: ...` (exact position), exit 1, and nothing written.
set -uo pipefail
tool=$1 work=$2
rm -rf "$work"; mkdir -p "$work"
status=0
check() { # name, file content (printf format), expected stderr prefix
    local name=$1 content=$2 want=$3
    printf "$content" > "$work/$name.txt"
    mkdir -p "$work/out_$name"
    "$tool" dump "$work/$name.txt" "$work/out_$name" 0 5 1 > /dev/null 2> "$work/$name.err"
    local rc=$?
    local got; got=$(head -1 "$work/$name.err")
    if [ $rc -ne 1 ] || [[ "$got" != "$work/$name.txt:$want"* ]] || [ -n "$(ls -A "$work/out_$name")" ]; then
        echo "FAIL $name: exit $rc, '$got', expected '$work/$name.txt:$want...'"; status=1
    else
        echo "ok   $name: $got"
    fi
}
check no_tab      'go\tva\nhello there\n'        '2:12: error: no tab'
check two_tabs    'go\tva\tCC-BY\n'              '1:6: error: a second tab'
check empty_src   'go\tva\n \u202f\tva\n'        '2:1: error: empty source side'
check empty_tgt   'go\tva\ngo\t  \n'             '2:4: error: empty target side'
check blank_line  'go\tva\n\ngo\tva\n'           '2:1: error: empty line'
check bad_utf8    'go\tva\ngo\tcaf\xe9\n'        '2:7: error: invalid UTF-8'
check nul_byte    'go\tva\ngo\x00\tva\n'         '2:3: error: NUL byte'
check empty_file  ''                             '1:1: error: no sentence pairs'
long=$(head -c 5000 /dev/zero | tr '\0' 'a')
check long_line   "go\\tva\\n$long\\tb\\n"       '2:4097: error: line is longer than 4096'
# a training split whose target side has no word twice: empty vocabulary
printf 'go\tva\ngo\tvas\ngo\tvat\n' > "$work/vocab.txt"; mkdir -p "$work/out_vocab"
"$tool" dump "$work/vocab.txt" "$work/out_vocab" 0 5 2 2> "$work/vocab.err" > /dev/null
rc=$?
if [ $rc -ne 1 ] || ! grep -q "target vocabulary is empty" "$work/vocab.err"; then
    echo "FAIL vocab: exit $rc, $(cat "$work/vocab.err")"; status=1
else echo "ok   vocab: $(cat "$work/vocab.err")"; fi
# missing file: exit 3
"$tool" dump "$work/none.txt" "$work" 2> "$work/none.err"; rc=$?
if [ $rc -ne 3 ]; then echo "FAIL missing file: exit $rc"; status=1; else echo "ok   missing: $(cat "$work/none.err")"; fi
exit $status
