#!/usr/bin/env python3
"""Where a training step's time goes, from a sampling profile of `replicate bench engine`: how busy the threads are,
the share of samples inside the BLAS, its operand packing, and the parts outside it. papers/engine.md ("Why not a
steady 1.25x") has the numbers. Record with call chains, then read the samples:

    perf record -e cpu-clock -F 1000 -g -o /tmp/step.data \\
        replicate bench engine --no-peer --no-compile --no-scaling --rounds 1 --steps 30 --warmup 1
    perf script -i /tmp/step.data -F tid,time,ip,sym > /tmp/step.txt
    python3 scripts/step_profile.py /tmp/step.txt [--threads 2]

Only the steady steps count: from one second after the first Adam update (the set-up and the first steps are
over) to the start of the bench's peak-memory steps. `busy` is the samples taken against the samples the threads
could have given in that time (an idle or descheduled thread gives none). A sampling period (1 ms at -F 1000) with samples from one
thread only is a moment when the other thread was waiting or slowed.
"""
import argparse
import collections
import re
import sys


def read(path):
    """[(tid, seconds, [frames, innermost first])] from `perf script -F tid,time,ip,sym` output."""
    samples, current = [], None
    head = re.compile(r"\s*(\d+)\s+([\d.]+):\s*$")
    for line in open(path, errors="replace"):
        if not line.strip():
            continue
        m = head.match(line)
        if m:
            current = (int(m.group(1)), float(m.group(2)), [])
            samples.append(current)
        elif current is not None:
            parts = line.split(None, 1)
            current[2].append(parts[1].strip() if len(parts) > 1 else parts[0])
    return samples


def part(frames):
    """A sample's part of the step: the BLAS (packing apart), a C kernel, or the innermost Swift function."""
    top = frames[0] if frames else "?"
    if top.startswith("mkl_") or "sgemm" in top or "blas" in top.lower():
        return "BLAS packing" if ("copy" in top and "nocopy" not in top) else "BLAS products"
    if top.startswith("rb_"):
        return top.split(".")[0]
    for f in frames:
        if f.startswith("$s") and "parallelFor" not in f and "concurrentPerform" not in f and "SiIgy" not in f:
            return top[:40] + " in " + f[:70]
    return top[:60]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("samples", help="perf script -F tid,time,ip,sym output")
    ap.add_argument("--threads", type=int, default=2, help="the engine's threads (bench engine's --threads)")
    ap.add_argument("--frequency", type=float, default=1000, help="perf record's -F (samples per second per thread)")
    ap.add_argument("--top", type=int, default=16, help="how many parts to list")
    a = ap.parse_args()
    samples = read(a.samples)
    within = lambda s, key: any(key in f for f in s[2])
    adam = [s[1] for s in samples if within(s, "rb_adam")]
    if not adam:
        sys.exit("step_profile: no Adam update among the samples (record with -g, over at least two steps)")
    start = min(adam) + 1.0
    memory = [s[1] for s in samples if within(s, "BenchStepMemory") and s[1] > start]
    end = min(memory) - 0.05 if memory else max(s[1] for s in samples)
    steady = [s for s in samples if start <= s[1] <= end]
    if not steady:
        sys.exit("step_profile: no steady steps (run more steps)")
    period = 1.0 / a.frequency
    seconds = end - start
    possible = seconds / period * a.threads
    labelled = [(s[0], int(s[1] / period), part(s[2])) for s in steady]  # (thread, sampling window, part)
    windows = collections.defaultdict(set)
    for tid, window, _ in labelled:
        windows[window].add(tid)
    alone = sum(1 for w in windows.values() if len(w) == 1)
    lone = collections.Counter()  # the one thread's samples in those windows: which thread, and whether in the BLAS
    for tid, window, name in labelled:
        if len(windows[window]) == 1:
            lone[(tid, name.startswith("BLAS"))] += 1
    parts = collections.Counter(name for _, _, name in labelled)
    n = len(steady)
    blas = parts["BLAS products"] + parts["BLAS packing"]
    print(f"steady steps: {seconds:.2f} s, {n} samples of {possible:.0f} possible: busy {n / possible:.1%}")
    print(f"sampling windows with one thread only: {alone} of {len(windows)} ({alone / max(len(windows), 1):.1%})")
    for tid in sorted({t for t, _ in lone}, key=lambda t: -(lone[(t, True)] + lone[(t, False)]))[: a.threads]:
        print(f"  thread {tid} alone: {lone[(tid, True)] + lone[(tid, False)]} samples, {lone[(tid, True)]} of them in the BLAS")
    print(f"inside the BLAS: {blas / n:.1%} of the samples (packing operands {parts['BLAS packing'] / n:.1%})")
    print("largest parts:")
    for name, count in parts.most_common(a.top):
        print(f"  {count / n:6.1%}  {name}")


if __name__ == "__main__":
    main()
