#!/usr/bin/env bash
# outpaths.sh RNNC SPEC TRAINER WORKDIR: output paths handled as a careful
# tool does (issue 17, RELIABILITY F4/E4), by rnnc's -o and -d and by a
# trainer's checkpoint and stdout, which share runtime/rnnrt_out.c:
#   a symlink        followed: the target replaced, the link kept
#   a FIFO           written in place (read by cat), never renamed over
#   /dev/null        stays a character device
#   -o -             stdout
#   /dev/full        exit 3 and a message naming the path (where it exists)
#   unwritable dir   exit 3 naming the file (skipped when root can write it)
#   a directory      exit 3 naming it
# The FIFO cases come before /dev/null: code that renames over its output
# fails there, before it could replace the machine's /dev/null.
set -euo pipefail
E2E_NAME=outpaths
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 4 ] || { echo "usage: $0 RNNC SPEC TRAINER WORKDIR" >&2; exit 2; }
rnnc=$1 spec=$2 trainer=$3 work=$4
fresh_dir "$work"
cd "$work"

# expect_io WHAT WANT_IN_MESSAGE CMD...: CMD exits 3 with a message on
# stderr that contains WANT_IN_MESSAGE.
expect_io() {
    local what=$1 want=$2 rc=0
    shift 2
    "$@" >"$work/io.out" 2>"$work/io.err" || rc=$?
    [ "$rc" -eq 3 ] || { cat "$work/io.err" >&2; fail "$what: exit $rc, expected 3"; }
    grep -qF -- "$want" "$work/io.err" || { cat "$work/io.err" >&2; fail "$what: the message does not name '$want'"; }
    say "ok: $what: exit 3: $(head -n 1 "$work/io.err")"
}

# through_fifo FIFO GOT CMD...: CMD writes FIFO while cat copies it to GOT;
# the FIFO must still be one afterwards. A cat left waiting (the FIFO was
# renamed over, or never opened) is killed, not waited for; `timeout` only
# guards against a CMD that waits forever (one that opens the FIFO to read
# it), it measures nothing.
through_fifo() {
    local fifo=$1 got=$2 rc=0
    shift 2
    rm -f "$fifo" "$got"
    mkfifo "$fifo"
    timeout 120 cat "$fifo" >"$got" &
    local cat_pid=$!
    timeout 120 "$@" >"$work/fifo.out" 2>"$work/fifo.err" || rc=$?
    if [ "$rc" -ne 0 ] || [ ! -p "$fifo" ]; then
        kill "$cat_pid" 2>/dev/null || true
        wait "$cat_pid" 2>/dev/null || true
        cat "$work/fifo.err" >&2
        [ -p "$fifo" ] || fail "$* replaced the FIFO $fifo (now: $(ls -l "$fifo"))"
        fail "writing to the FIFO $fifo: exit $rc"
    fi
    wait "$cat_pid" || fail "cat of the FIFO $fifo failed"
}

# ---- rnnc ----
must "rnnc -o ref.c" "$work/ref.log" "$rnnc" "$spec" -o ref.c
[ -s ref.c ] || fail "rnnc wrote nothing to ref.c"

# -o -: stdout, and no file named "-"
"$rnnc" "$spec" -o - >stdout.c || fail "rnnc -o - failed"
cmp -s stdout.c ref.c || fail "rnnc -o - did not write the C to stdout"
[ ! -e ./- ] || fail "rnnc -o - created a file named '-'"
say "ok: rnnc -o - writes stdout"

# a symlink: followed, the link kept, its target replaced (even in another
# directory: the tmp file goes to the target's)
mkdir -p targets
echo "old" >targets/real.c
ln -s targets/real.c link.c
must "rnnc -o link.c" "$work/link.log" "$rnnc" "$spec" -o link.c
[ -L link.c ] || fail "rnnc -o link.c replaced the symlink"
[ "$(readlink link.c)" = targets/real.c ] || fail "the symlink changed"
cmp -s targets/real.c ref.c || fail "rnnc -o link.c did not write the link's target"
no_tmp "$work" "rnnc -o link.c"
say "ok: rnnc -o SYMLINK writes the target, the link stays"

# a FIFO: written in place
through_fifo c.fifo fifo.c "$rnnc" "$spec" -o c.fifo
cmp -s fifo.c ref.c || fail "what came through the FIFO is not the C"
say "ok: rnnc -o FIFO writes through it, the FIFO stays"

# /dev/null stays a character device
[ -c /dev/null ] || fail "/dev/null is not a character device before the test"
must "rnnc -o /dev/null" "$work/null.log" "$rnnc" "$spec" -o /dev/null
[ -c /dev/null ] || fail "rnnc -o /dev/null replaced /dev/null"
say "ok: rnnc -o /dev/null leaves a character device"

# a full device
if [ -w /dev/full ]; then
    expect_io "rnnc -o /dev/full" "'/dev/full': No space left on device" "$rnnc" "$spec" -o /dev/full
    expect_io "rnnc -d lower > /dev/full" "standard output: No space left on device" \
        bash -c '"$0" "$1" -d lower >/dev/full' "$rnnc" "$spec"
    expect_io "rnnc > /dev/full" "standard output" bash -c '"$0" "$1" >/dev/full' "$rnnc" "$spec"
    [ -c /dev/full ] || fail "/dev/full is no longer a character device"
else
    say "skipped: /dev/full is absent or not writable"
fi

# a directory at -o
mkdir -p adir
expect_io "rnnc -o DIRECTORY" "'adir': Is a directory" "$rnnc" "$spec" -o adir

# an unwritable directory (root writes anyway: skipped then)
mkdir -p ro
chmod 555 ro
if touch ro/probe 2>/dev/null; then
    rm -f ro/probe
    say "skipped: unwritable directory (running as root, ro/ is writable anyway)"
    rodir=
else
    rodir=ro
    expect_io "rnnc -o ro/x.c (unwritable directory)" "ro/x.c" "$rnnc" "$spec" -o ro/x.c
    [ -z "$(ls -A ro)" ] || fail "rnnc left files in ro/: $(ls -A ro)"
fi

# ---- a trainer: its checkpoint and its stdout ----
awk 'BEGIN { for (i = 0; i < 300; i++) print "the quick brown fox jumps over the lazy dog" }' >text.txt
train=("$trainer" train --data text.txt --epochs 1 --max-steps 2 --batch 4 --steps 8
    --threads 1 --quiet --sample-len 5)
must "training to ref.ckpt" "$work/tref.log" "${train[@]}" --ckpt ref.ckpt
[ -s ref.ckpt ] || fail "no reference checkpoint"

# a symlink: the target replaced (the same bytes as ref.ckpt), the link kept
echo "not a checkpoint yet" >targets/real.ckpt
ln -s targets/real.ckpt link.ckpt
must "training to a symlinked --ckpt" "$work/tlink.log" "${train[@]}" --ckpt link.ckpt --force
[ -L link.ckpt ] || fail "the trainer replaced the symlink --ckpt"
cmp -s targets/real.ckpt ref.ckpt || fail "the symlink's target is not the checkpoint"
no_tmp "$work" "--ckpt SYMLINK"
must "eval through the symlink" "$work/teval.log" "$trainer" eval --data text.txt --ckpt link.ckpt
say "ok: --ckpt SYMLINK writes the target, the link stays, eval reads it"

# a FIFO (a short run saves once: cat reads one checkpoint)
through_fifo ckpt.fifo fifo.ckpt "${train[@]}" --ckpt ckpt.fifo
cmp -s fifo.ckpt ref.ckpt || fail "what came through the FIFO is not the checkpoint"
say "ok: --ckpt FIFO writes through it, the FIFO stays"

# /dev/null
must "training to --ckpt /dev/null" "$work/tnull.log" "${train[@]}" --ckpt /dev/null
[ -c /dev/null ] || fail "the trainer replaced /dev/null"
say "ok: --ckpt /dev/null leaves a character device"

# a full device, and a sample to a full stdout
if [ -w /dev/full ]; then
    expect_io "--ckpt /dev/full" "'/dev/full': No space left on device" "${train[@]}" --ckpt /dev/full
    expect_io "sample > /dev/full" "No space left on device" \
        bash -c '"$0" sample --ckpt "$1" --len 5 >/dev/full' "$trainer" ref.ckpt
fi

# a directory, and an unwritable directory
expect_io "--ckpt DIRECTORY" "'adir'" "${train[@]}" --ckpt adir
grep -q -- "--force" "$work/io.err" && fail "--ckpt DIRECTORY hints at --force"
if [ -n "$rodir" ]; then
    expect_io "--ckpt ro/m.ckpt (unwritable directory)" "ro/m.ckpt" "${train[@]}" --ckpt ro/m.ckpt
    [ -z "$(ls -A ro)" ] || fail "the trainer left files in ro/: $(ls -A ro)"
fi

# --ckpt -: a usage error
rc=0
"${train[@]}" --ckpt - >dash.out 2>dash.err || rc=$?
[ "$rc" -eq 2 ] || { cat dash.err >&2; fail "--ckpt -: exit $rc, expected 2 (usage)"; }
grep -q "ckpt -" dash.err || { cat dash.err >&2; fail "--ckpt -: no message naming it"; }
[ ! -e ./- ] || fail "--ckpt - created a file named '-'"
say "ok: --ckpt - is a usage error: $(head -n 1 dash.err)"
no_tmp "$work" "the trainer"
chmod 755 ro
say "all output-path cases pass"
