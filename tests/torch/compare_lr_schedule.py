#!/usr/bin/python3
"""compare_lr_schedule.py: rnnrt's learning-rate schedules against torch's.

For each case the same sequence of validation losses goes to
torch.optim.lr_scheduler (StepLR, ReduceLROnPlateau in mode "min" with a
relative threshold, CosineAnnealingLR over the epochs, and the linear
warm-up as LambdaLR(lambda s: min(1, (s + 1) / N)) stepped per optimizer
step) driving a torch.optim.SGD, and to rnnrt_sched.c through
tests/tools/sched_tool; the learning rates after every epoch (before every
step, for the warm-up) must agree to 1e-12 relative.

Exit status: 0 all agree, 1 a mismatch, 77 when /usr/bin/python3 cannot
import torch.
"""
import argparse
import subprocess
import sys

try:
    import torch
except ImportError:
    print("compare_lr_schedule: skipped: /usr/bin/python3 cannot import torch")
    sys.exit(77)

# Validation losses with improvements, plateaus and improvements below the
# 1e-4 relative threshold.
LOSSES = [3.0, 2.5, 2.6, 2.5, 2.49999, 2.4, 2.45, 2.45, 2.46, 2.3,
          2.3, 2.2999, 2.31, 2.32, 2.1, 2.2, 2.2, 2.2, 2.0, 2.05]


def torch_epochs(kind, lr, epochs, step, factor, patience, threshold, min_lr):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=lr)
    if kind == "step":
        sch = torch.optim.lr_scheduler.StepLR(opt, step_size=step, gamma=factor)
    elif kind == "plateau":
        sch = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=factor, patience=patience,
            threshold=threshold, threshold_mode="rel", min_lr=min_lr)
    elif kind == "cosine":
        sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=min_lr)
    out = []
    for e in range(epochs):
        opt.step()
        if kind == "plateau":
            sch.step(LOSSES[e])
        else:
            sch.step()
        out.append(opt.param_groups[0]["lr"])
    return out


def torch_warmup(lr, warmup, steps):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=lr)
    sch = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    return out


def rnnrt(tool, args):
    res = subprocess.run([tool] + [str(a) for a in args], capture_output=True, text=True)
    if res.returncode:
        sys.exit("sched_tool %s failed: %s" % (args, res.stderr))
    return [float(x) for x in res.stdout.split()]


def compare(name, got, want):
    if len(got) != len(want):
        print("%s: %d values, torch %d" % (name, len(got), len(want)))
        return False
    for i, (g, w) in enumerate(zip(got, want)):
        if abs(g - w) > 1e-12 * abs(w) + 1e-300:
            print("%s: at %d rnnrt %.17g, torch %.17g" % (name, i + 1, g, w))
            return False
    print("%s: %d learning rates agree (last %.6g)" % (name, len(got), got[-1]))
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    a = ap.parse_args()
    n = len(LOSSES)
    cases = [
        ("step", 0.5, n, 3, 0.5, 10, 1e-4, 0),
        ("step", 1.0, n, 1, 0.9, 10, 1e-4, 0),
        ("plateau", 1.0, n, 1, 0.5, 1, 1e-4, 0),
        ("plateau", 0.3, n, 1, 0.25, 2, 1e-4, 0.01),
        ("plateau", 2.0, n, 1, 0.1, 1, 0.05, 0),
        ("cosine", 0.5, n, 1, 0.1, 10, 1e-4, 0),
        ("cosine", 1.0, 7, 1, 0.1, 10, 1e-4, 0.05),
    ]
    ok = True
    for c in cases:
        got = rnnrt(a.tool, list(c) + LOSSES[:c[2]])
        ok &= compare("%s %s" % (c[0], c[1:]), got, torch_epochs(*c))
    for lr, warmup, steps in [(0.1, 5, 12), (1.0, 1, 3), (0.003, 100, 130)]:
        got = rnnrt(a.tool, ["warmup", lr, warmup, steps])
        ok &= compare("warmup %s %s" % (lr, warmup), got, torch_warmup(lr, warmup, steps))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
