#!/usr/bin/env bash
# decode_passes.sh RNNC SPEC MODE: the seq2seq decoding graphs (the encoder
# of <model>_encode and the decoder step of <model>_step) go through the
# driver's pass list like the training graph, so the options that choose
# passes reach them (tests/s2s_passes.cmake).
#   O0       rnnc -O0: the emitted encoder has no fused loop and no hoisted
#            GEMM (only the key projection, which lowering puts before the
#            scan); by default it has both
#   no_pass  --no-pass fuse: no fused loop in the encoder, its GEMMs still
#            hoisted; --no-pass hoist: fused loops, no hoisted GEMM; the
#            step calls fused loops (its top level is fused: no scans),
#            none with --no-pass fuse
#   dump     -d STAGE prints the decoding graphs after the training one:
#            after lower and after autodiff (also at -O0); after fuse the
#            encoder's are fused; cse merges the step's two `1 -` constants
#            (one per decoder layer), and --no-pass cse keeps them apart
set -euo pipefail
rnnc=$1 spec=$2 mode=$3
model=$(basename "$spec" .yaml)
fail() { echo "decode_passes($mode): $*" >&2; exit 1; }

# The C of one emitted function (its definition to the closing brace).
# (awk reads to the end: rnnc must not die of SIGPIPE under pipefail)
function_of() { awk -v f="static void ${model}_$1(" 'index($0, f) == 1 {p = 1} p; p && /^}/ {p = 0}'; }
# The dump of one decoding graph ("encode" or "step"), up to the next one.
graph_of() {
    awk -v h="; decoding graph: ${model}_$1 " 'index($0, "; decoding graph: ") == 1 {p = index($0, h) == 1} p'
}
count() { grep -c -- "$1" || true; }

fused_in_encode() { "$rnnc" "$spec" "$@" | function_of encode | count 'fused'; }
# GEMMs over all T*B rows: hoisted out of the encoder's scans
hoisted_in_encode() { "$rnnc" "$spec" "$@" | function_of encode | count 'rnnrt_gemm(0, 0, T \* B,'; }
fused_in_step() { "$rnnc" "$spec" "$@" | function_of step | count "${model}_step_[a-z_0-9]*((size_t)"; }
step_ones() { "$rnnc" "$spec" "$@" | graph_of step | count '= const 1 :'; }

case $mode in
O0)
    f=$(fused_in_encode) h=$(hoisted_in_encode)
    [ "$f" -gt 0 ] && [ "$h" -gt 1 ] || fail "by default the encoder should be fused ($f) and hoisted ($h GEMMs)"
    f=$(fused_in_encode -O0) h=$(hoisted_in_encode -O0)
    [ "$f" -eq 0 ] || fail "-O0: the encoder has $f fused loop calls"
    [ "$h" -eq 1 ] || fail "-O0: the encoder has $h GEMMs over T*B rows (want 1: the key projection)"
    ;;
no_pass)
    f=$(fused_in_encode --no-pass fuse) h=$(hoisted_in_encode --no-pass fuse)
    [ "$f" -eq 0 ] || fail "--no-pass fuse: the encoder has $f fused loop calls"
    [ "$h" -gt 1 ] || fail "--no-pass fuse: the encoder lost its hoisted GEMMs ($h)"
    f=$(fused_in_encode --no-pass hoist) h=$(hoisted_in_encode --no-pass hoist)
    [ "$f" -gt 0 ] || fail "--no-pass hoist: the encoder lost its fused loops"
    [ "$h" -eq 1 ] || fail "--no-pass hoist: the encoder has $h GEMMs over T*B rows (want 1)"
    f=$(fused_in_step) g=$(fused_in_step --no-pass fuse)
    [ "$f" -gt 0 ] || fail "the step calls no fused loop"
    [ "$g" -eq 0 ] || fail "--no-pass fuse: the step calls $g fused loops"
    ;;
dump)
    for args in "-d lower" "-d autodiff" "-O0 -d autodiff" "-d fuse" "-d memplan"; do
        # shellcheck disable=SC2086
        out=$("$rnnc" "$spec" $args)
        for g in encode step; do
            n=$(printf '%s\n' "$out" | graph_of $g | count '^model ')
            [ "$n" -eq 1 ] || fail "$args: the ${model}_$g graph is not in the dump"
        done
    done
    n=$("$rnnc" "$spec" -d fuse | graph_of encode | count '^ *fused %')
    [ "$n" -gt 0 ] || fail "-d fuse: the encoder graph has no fused loop"
    n=$("$rnnc" "$spec" -d hoist | graph_of encode | count '^ *fused %')
    [ "$n" -eq 0 ] || fail "-d hoist: the encoder graph is fused before fuse ran"
    a=$(step_ones -d lower) b=$(step_ones -d cse) c=$(step_ones --no-pass cse -d fuse)
    [ "$a" -eq 2 ] || fail "-d lower: the step has $a constants 1 (want 2, one per decoder layer)"
    [ "$b" -eq 1 ] || fail "-d cse: cse left $b constants 1 in the step (want 1)"
    [ "$c" -eq 2 ] || fail "--no-pass cse -d fuse: the step has $c constants 1 (want 2)"
    ;;
*)
    fail "unknown mode '$mode' (O0 | no_pass | dump)"
    ;;
esac
echo "decode_passes($mode): ok"
