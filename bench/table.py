#!/usr/bin/python3
"""Formats bench/run.sh's results.tsv as a markdown table; with a README path,
replaces the text between <!-- BEGIN RESULTS --> and <!-- END RESULTS -->.

  table.py RESULTS.tsv [README.md]
"""
import os
import platform
import re
import subprocess
import sys


def kv(text):
    return dict(f.split("=", 1) for f in text.split() if "=" in f)


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    flags = open("/proc/cpuinfo").read()
    isa = "AVX-512" if " avx512f" in flags else "AVX2" if " avx2" in flags else "SSE"
    try:
        blas = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libopenblas0-pthread"],
                              capture_output=True, text=True).stdout.strip() or "?"
    except OSError:
        blas = "?"
    return (f"{cpu}, {os.cpu_count()} cores ({isa}), Linux {platform.release()}, "
            f"OpenBLAS {blas} (pthread), gcc -O2 -march=native; rnnc's scan GEMMs: its packed kernel at "
            f"OpenBLAS's vector width (AVX2 under Haswell, AVX-512 under default)")


def fmt(x, unit=""):
    return f"{float(x) / 1000:.1f}k" if unit == "k" else x


def main():
    rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
    rows = [row + [""] * (5 - len(row)) for row in rows]
    one_thread = {(cfg, ct): kv(r).get("train_tok_s") for cfg, ct, th, r, _ in rows if th == "1"}
    torch_version = "?"
    footnote = False
    out = ["| config | OPENBLAS_CORETYPE | threads | rnnc train tok/s | PyTorch train tok/s | ratio "
           "| rnnc ÷ rnnc 1 thread | rnnc N MPI ranks × 1 thread ÷ 1 rank × 1 thread "
           "| rnnc train tok/s, OpenBLAS threads instead of the split "
           "| rnnc gen tok/s (B=1) | PyTorch gen tok/s | gen ratio | rnnc RSS MB | PyTorch RSS MB "
           "| rnnc GEMM GFLOP/s | sgemm GFLOP/s at the step's shapes | % of GEMM limit |",
           "|" + "---|" * 17]
    for cfg, ct, th, r, t in rows:
        r, t = kv(r), kv(t)
        torch_version = t.get("torch_version", torch_version)
        na = "spec not yet available"
        rt, tt = r.get("train_tok_s"), t.get("train_tok_s")
        rg, tg = r.get("gen_tok_s"), t.get("gen_tok_s")
        ratio = f"{float(rt) / float(tt):.2f}x" if rt and tt else "-"
        rt1 = one_thread.get((cfg, ct))
        scale = f"{float(rt) / float(rt1):.2f}x" if rt and rt1 and th != "1" else "-"
        mpi = f"{float(r['mpi_ratio']):.2f}x" if "mpi_ratio" in r else "-"
        rb = r.get("train_blas_tok_s") if th != "1" else None
        # a trainer without the batch split (workers=1) ran on N OpenBLAS
        # threads: mark its N-thread number, and no "instead" column
        blas_only = th != "1" and r.get("workers") == "1"
        if blas_only:
            rb, footnote = None, True
        gratio = f"{float(rg) / float(tg):.1f}x" if rg and tg else "-"
        eff = f"{100 * float(r['gemm_efficiency']):.0f}%" if "gemm_efficiency" in r else "-"
        out.append(f"| {cfg} | {ct} | {th} | {fmt(rt, 'k') + ('*' if blas_only else '') if rt else na} | {fmt(tt, 'k') if tt else 'no reference yet'} "
                   f"| {ratio} | {scale} | {mpi} | {fmt(rb, 'k') if rb else '-'} | {fmt(rg, 'k') if rg else '-'} | {fmt(tg, 'k') if tg else '-'} | {gratio} "
                   f"| {r.get('peak_rss_mb', '-')} | {t.get('peak_rss_mb', '-')} "
                   f"| {r.get('achieved_gflops', '-')} | {r.get('sgemm_gflops', '-')} | {eff} |")
    if footnote:
        out += ["", "\\* no batch split in this trainer yet: N OpenBLAS threads, one worker."]
    if any(cfg == "S2S-ATT" and kv(r).get("gen_tok_s") for cfg, _, _, r, _ in rows):
        out += ["", "S2S-ATT gen tok/s: batch-1 greedy decoding of T = 10 target tokens per source, "
                "the encoder's time included (rnnc: the emitted encode and step entries; PyTorch: "
                "Seq2Seq.encode and decode_step under no_grad)."]
    text = "\n".join([f"Machine: {machine()}; PyTorch {torch_version} (Debian python3-torch).", ""] + out) + "\n"
    print(text)
    if len(sys.argv) > 2:
        path = sys.argv[2]
        old = open(path).read() if os.path.exists(path) else ""
        begin, end = "<!-- BEGIN RESULTS -->", "<!-- END RESULTS -->"
        if begin in old and end in old:
            new = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: f"{begin}\n{text}{end}", old,
                         flags=re.S)
        else:
            new = old + f"\n{begin}\n{text}{end}\n"
        open(path, "w").write(new)


if __name__ == "__main__":
    main()
