#!/usr/bin/env python3
"""The PyTorch peer of `replicate bench engine` and `replicate bench linear-attention`: the same model, timed the same way.

Pre-LN decoder-only transformer (learned positions at the input, GELU tanh, Adam, random tokens, no dropout); causal
softmax attention through F.scaled_dot_product_attention, or a linear kind laid out like Sources/NN/Attention/LinearAttentionKernel.swift: one input
projection holding q, k (heads x d_k each), v (d_model), then beta (delta rule) and the decay gate (per-token decay),
one per head. The linear kinds run the chunked form of Sources/NN/Attention/LinearAttention.swift (blocks of C
tokens: quadratic inside a block, the state carried between blocks; the delta rule's WY form through
torch.linalg.solve_triangular); softmax runs F.scaled_dot_product_attention. Decoding steps one block one token at a
time: softmax over a preallocated KV cache, a linear kind its recurrent state.

  --mode train   one JSON line: tokens/s, the step's memory (peak RSS minus RSS before the first step), peak RSS,
                 params. --compile: model and loss through torch.compile (inductor; compiled in the untimed warm-up,
                 at least 2 steps; adds "compiled", "compile_s"; exits non-zero with one stderr line if compiling
                 fails). --profile: 3 more steps under torch.profiler, top ops by self CPU time and the share of
                 matrix products to stderr (the JSON stays the last stdout line).
                 --serve: the model stays alive after the warm-up and times slices of steps on request (stdin
                 "steps N" -> one JSON line of seconds; "quit" -> the result line), so that the bench can interleave
                 them with its own steps.
  --mode decode  one JSON line: median milliseconds per token of one block at each of --decode-contexts
  --mode check   chunked against token-by-token recurrence in float64 for every kind (the twin's own test)

Use PyTorch 2.x (see ../shared/PERFORMANCE.md); the bench passes --python.
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

KINDS = {
    # name: (feature map, delta rule, decay, normaliser)
    "linear": ("identity", False, None, False),
    "linear-norm": ("identity", False, None, True),
    "elu": ("elu1", False, None, True),
    "decayed": ("identity", False, ("fixed", 0.95, 0.5), False),
    "decayed-learned": ("identity", False, ("learned", 0.95), False),
    "delta": ("identity", True, None, False),
    "gated-delta": ("identity", True, ("token", 3.0), False),
    "dpfp1": ("dpfp1", False, None, True),
    "dpfp2": ("dpfp2", False, None, True),
    "dpfp3": ("dpfp3", False, None, True),
}


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def features(x, fmap):
    if fmap == "identity":
        return x
    if fmap == "elu1":
        return F.elu(x) + 1
    nu = int(fmap[4:])
    r = F.relu(torch.cat([x, -x], dim=-1))
    return torch.cat([r * torch.roll(r, shifts=i, dims=-1) for i in range(1, nu + 1)], dim=-1)


def linear_chunked(q, k, v, g, beta, normalize, chunk, eps=1e-6):
    """q, k [N, T, dk], v [N, T, dv], g [N, T] log decay or None, beta [N, T] or None -> o [N, T, dv]."""
    n, t, dk = q.shape
    dv = v.shape[2]
    s = q.new_zeros(n, dk, dv)
    z = q.new_zeros(n, dk) if normalize else None
    out = []
    for start in range(0, t, chunk):
        qc, kc, vc = q[:, start:start + chunk], k[:, start:start + chunk], v[:, start:start + chunk]
        length = qc.shape[1]
        tri = torch.ones(length, length, dtype=torch.bool).tril()
        if g is not None:
            cum = g[:, start:start + chunk].cumsum(1)  # [N, L]
            d = (cum[:, :, None] - cum[:, None, :]).masked_fill(~tri, float("-inf")).exp()
            exp_g = cum.exp()[:, :, None]
            to_end = (cum[:, -1:] - cum).exp()[:, :, None]
            exp_gl = cum[:, -1].exp()
        else:
            d = tri.to(q.dtype)
            exp_g = to_end = exp_gl = None
        qk = (qc @ kc.transpose(1, 2)) * d
        u = vc
        if beta is not None:
            b = beta[:, start:start + chunk, None]
            kk = (kc @ kc.transpose(1, 2)) * d
            ks = kc @ s
            rhs = (vc - (ks * exp_g if exp_g is not None else ks)) * b
            lower = (kk * b).tril(-1) + torch.eye(length, dtype=q.dtype)
            u = torch.linalg.solve_triangular(lower, rhs, upper=False, unitriangular=True)
        qs = qc @ s
        o = qk @ u + (qs * exp_g if exp_g is not None else qs)
        k_end = kc * to_end if to_end is not None else kc
        s_next = k_end.transpose(1, 2) @ u + (s * exp_gl[:, None, None] if exp_gl is not None else s)
        if normalize:
            qz = (qc @ z[:, :, None])
            den = qk.sum(2, keepdim=True) + (qz * exp_g if exp_g is not None else qz)
            o = o / (den + eps)
            z = k_end.sum(1) + (z * exp_gl[:, None] if exp_gl is not None else z)
        s = s_next
        out.append(o)
    return torch.cat(out, dim=1)


def linear_recurrent_step(q, k, v, g, beta, normalize, state, eps=1e-6):
    """One token: q, k [N, dk], v [N, dv], g, beta [N] or None; state (S [N, dk, dv], z [N, dk] or None)."""
    s, z = state
    if g is not None:
        a = g.exp()
        s = s * a[:, None, None]
        if z is not None:
            z = z * a[:, None]
    u = v
    if beta is not None:
        u = (v - (k[:, None, :] @ s)[:, 0]) * beta[:, None]
    s = s + k[:, :, None] * u[:, None, :]
    o = (q[:, None, :] @ s)[:, 0]
    if normalize:
        z = z + k
        o = o / ((q * z).sum(1, keepdim=True) + eps)
    return o, (s, z)


class LinearAttention(nn.Module):
    def __init__(self, kind, d_model, heads, key_dim, chunk):
        super().__init__()
        self.fmap, self.delta, self.decay, self.normalize = KINDS[kind]
        self.heads, self.dk, self.dv, self.chunk = heads, key_dim or d_model // heads, d_model // heads, chunk
        self.gated = self.decay is not None and self.decay[0] == "token"
        width = heads * 2 * self.dk + d_model + (heads if self.delta else 0) + (heads if self.gated else 0)
        self.qkv = nn.Linear(d_model, width)
        if self.gated:
            with torch.no_grad():
                self.qkv.bias[-heads:] = self.decay[1]
        if self.decay is not None and self.decay[0] == "learned":
            lam = self.decay[1]
            self.a = nn.Parameter(torch.full((heads,), math.log(lam / (1 - lam))))

    def split(self, x):
        """[B, T, width] -> q, k [B*H, T, dk'], v [B*H, T, dv], g, beta [B*H, T] or None."""
        b, t, _ = x.shape
        h, dk, dv = self.heads, self.dk, self.dv

        def heads_of(y, d):
            return y.reshape(b, t, h, d).transpose(1, 2).reshape(b * h, t, d)
        col = 0
        q = heads_of(x[..., col:col + h * dk], dk); col += h * dk
        k = heads_of(x[..., col:col + h * dk], dk); col += h * dk
        v = heads_of(x[..., col:col + h * dv], dv); col += h * dv
        q, k = features(q, self.fmap), features(k, self.fmap)
        beta = g = None
        if self.delta:
            q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
            beta = torch.sigmoid(heads_of(x[..., col:col + h], 1))[..., 0]; col += h
        if not self.normalize:
            q = q / math.sqrt(q.shape[-1])
        if self.decay is not None:
            if self.decay[0] == "fixed":
                k = k * self.decay[2]
                g = torch.full((b * h, t), math.log(self.decay[1]), dtype=x.dtype)
            elif self.decay[0] == "learned":
                g = F.logsigmoid(self.a)[None, :, None].expand(b, h, t).reshape(b * h, t)
            else:
                g = F.logsigmoid(heads_of(x[..., col:col + h], 1))[..., 0]
        return q, k, v, g, beta

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v, g, beta = self.split(self.qkv(x))
        o = linear_chunked(q, k, v, g, beta, self.normalize, self.chunk)
        return o.reshape(b, self.heads, t, self.dv).transpose(1, 2).reshape(b, t, self.heads * self.dv)

    def initial_state(self, batch):
        n = batch * self.heads
        dkf = features(torch.zeros(1, self.dk), self.fmap).shape[-1]
        return (torch.zeros(n, dkf, self.dv), torch.zeros(n, dkf) if self.normalize else None)

    def step(self, x, state):
        q, k, v, g, beta = self.split(self.qkv(x))  # x [B, 1, d]
        o, state = linear_recurrent_step(q[:, 0], k[:, 0], v[:, 0], None if g is None else g[:, 0],
                                         None if beta is None else beta[:, 0], self.normalize, state)
        return o.reshape(x.shape[0], 1, -1), state


class SoftmaxAttention(nn.Module):
    def __init__(self, d_model, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d_model, 3 * d_model)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = [z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v)]
        return F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, c)

    def initial_state(self, batch, capacity, filled):
        """A KV cache with room for `capacity` positions, the first `filled` holding random keys and values."""
        dh = self.qkv.in_features // self.heads
        keys = torch.zeros(batch, self.heads, capacity, dh)
        values = torch.zeros(batch, self.heads, capacity, dh)
        keys[:, :, :filled].uniform_(-0.5, 0.5)
        values[:, :, :filled].uniform_(-0.5, 0.5)
        return (keys, values, filled)

    def step(self, x, state):
        keys, values, n = state
        b, _, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = [z.view(b, 1, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v)]
        keys[:, :, n:n + 1] = k
        values[:, :, n:n + 1] = v
        y = F.scaled_dot_product_attention(q, keys[:, :, :n + 1], values[:, :, :n + 1])
        return y.transpose(1, 2).reshape(b, 1, c), (keys, values, n + 1)


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(a.d_model), nn.LayerNorm(a.d_model)
        self.attn = SoftmaxAttention(a.d_model, a.heads) if a.attention == "softmax" else \
            LinearAttention(a.attention, a.d_model, a.heads, a.key_dim, a.chunk)
        self.proj = nn.Linear(a.d_model, a.d_model)
        self.fc, self.fc_proj = nn.Linear(a.d_model, a.d_ff), nn.Linear(a.d_ff, a.d_model)

    def ff(self, x):
        return x + self.fc_proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    def forward(self, x):
        return self.ff(x + self.proj(self.attn(self.ln1(x))))

    def step(self, x, state):
        y, state = self.attn.step(self.ln1(x), state)
        return self.ff(x + self.proj(y)), state


class LM(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.tok, self.pos = nn.Embedding(a.vocab, a.d_model), nn.Embedding(a.context, a.d_model)
        self.blocks = nn.ModuleList([Block(a) for _ in range(a.layers)])
        self.ln_f, self.head = nn.LayerNorm(a.d_model), nn.Linear(a.d_model, a.vocab)

    def forward(self, idx):
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1]))
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln_f(x))


MATMUL_OPS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::addbmm", "aten::matmul_out",
              "aten::_addmm_activation"}
SDPA_MARKERS = ("scaled_dot_product", "flash_attention", "efficient_attention")


def is_matmul(name):
    return name in MATMUL_OPS or name.startswith(("aten::_mkl", "aten::mkldnn", "mkldnn::", "aten::_mkldnn")) \
        or ("mkldnn" in name and ("matmul" in name or "linear" in name))


def profile(step, steps=3, rows=20):
    """Runs `steps` more steps under the CPU profiler; the top ops by self CPU time and the matmul share to stderr."""
    from torch.profiler import ProfilerActivity, profile as torch_profile
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = prof.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=rows), file=sys.stderr)
    total = sum(e.self_cpu_time_total for e in events) or 1
    mm = sum(e.self_cpu_time_total for e in events if is_matmul(e.key))
    sdpa = sum(e.self_cpu_time_total for e in events if any(m in e.key for m in SDPA_MARKERS))
    print(f"profile ({steps} steps, self CPU {total / 1e3:.0f} ms): matrix products {100 * mm / total:.1f}% "
          f"(mm/addmm/bmm/mkl*/mkldnn matmul), SDPA flash-attention kernels {100 * sdpa / total:.1f}%, "
          f"everything else {100 * (total - mm - sdpa) / total:.1f}%", file=sys.stderr)


def train(a):
    model = LM(a)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randint(0, a.vocab, (a.batch, a.context))
    y = torch.randint(0, a.vocab, (a.batch, a.context))

    def loss_of(x, y):
        return F.cross_entropy(model(x).reshape(-1, a.vocab), y.reshape(-1))
    if a.compile:
        # Model and loss compiled together (forward and, through AOTAutograd, backward); the optimizer step stays eager.
        loss_of = torch.compile(loss_of)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_of(x, y)
        loss.backward()
        opt.step()
        return loss.item()
    before = rss_bytes()
    # Compiling happens on the first call (forward, then backward); a second warm-up step runs the compiled code once.
    warmup = max(a.warmup, 2) if a.compile else a.warmup
    t0 = time.perf_counter()
    try:
        for _ in range(warmup):
            step()
    except Exception as e:  # no C++ compiler, inductor failure, ...: the bench treats a non-zero exit as unavailable
        if not a.compile:
            raise
        msg = (str(e).strip().splitlines() or [""])[0][:300]
        print(f"bench_peer: torch.compile failed: {type(e).__name__}: {msg}", file=sys.stderr)
        sys.exit(3)
    warm_s = time.perf_counter() - t0
    if a.serve:
        return serve(a, step, model, before)
    graphs = compiled_graphs()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        step()
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    result = {"tokens_per_s": a.steps * a.batch * a.context / dt, "seconds_per_step": dt / a.steps,
              **footprint(model, before),
              "cpu_per_wall": cpu / dt}  # near --threads when the timed steps had the cores to themselves
    if a.compile:
        recompiled = compiled_graphs() - graphs
        if recompiled:
            print(f"bench_peer: warning: {recompiled} graph(s) compiled during the timed steps", file=sys.stderr)
        result.update({"compiled": True, "compile_s": warm_s, "warmup_steps": warmup,
                       "recompiled_in_timed": recompiled})
    if a.profile:
        profile(step)
    return result


def footprint(model, before):
    """The steps' memory (peak RSS minus RSS before the first step), the peak RSS, and the parameter count."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"step_mb": max(0, peak - before) / 1048576, "peak_mb": peak / 1048576,
            "params": sum(p.numel() for p in model.parameters())}


def serve(a, step, model, before):
    """--serve: after the warm-up, one JSON line {"ready": true}; then for each line "steps N" on stdin, N timed steps
    and one JSON line {"seconds": wall, "cpu": process CPU seconds}; "quit" (or end of input) ends it, and the usual
    result line follows, its tokens/s over the timed steps on --threads threads. "steps N threads T" times the N steps
    on T threads (torch.set_num_threads) and then returns to --threads. The bench interleaves these slices with its
    own steps."""
    print(json.dumps({"ready": True}), flush=True)
    total_steps, total_s = 0, 0.0
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "quit":
            break
        threads = cmd[3] if len(cmd) == 4 and cmd[2] == "threads" else None
        if (cmd[0] != "steps" or len(cmd) not in (2, 4) or not cmd[1].isdigit() or int(cmd[1]) < 1
                or (len(cmd) == 4 and (threads is None or not threads.isdigit() or int(threads) < 1))):
            print(f"bench_peer: --serve expects 'steps N' or 'steps N threads T' (N, T >= 1) or 'quit', got {line.strip()!r}",
                  file=sys.stderr)
            sys.exit(2)
        n = int(cmd[1])
        if threads is not None:
            torch.set_num_threads(int(threads))
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            step()
        dt = time.perf_counter() - t0
        if threads is not None:
            torch.set_num_threads(a.threads)
        else:
            total_steps, total_s = total_steps + n, total_s + dt
        print(json.dumps({"seconds": dt, "cpu": time.process_time() - c0}), flush=True)
    return {"tokens_per_s": total_steps * a.batch * a.context / total_s if total_s > 0 else 0.0, "steps": total_steps,
            **footprint(model, before)}


def compiled_graphs():
    try:
        from torch._dynamo.utils import counters
        return int(counters["stats"]["unique_graphs"])
    except Exception:
        return 0


def decode(a):
    block = Block(a)
    x = (torch.arange(a.d_model) % 7).float().div(7).reshape(1, 1, a.d_model)
    out = {}
    with torch.no_grad():
        for ctx in a.decode_contexts:
            state = block.attn.initial_state(1, ctx + a.tokens + 2, ctx) if a.attention == "softmax" else block.attn.initial_state(1)
            times = []
            for i in range(a.tokens + 2):
                t0 = time.perf_counter()
                _, state = block.step(x, state)
                if i >= 2:
                    times.append((time.perf_counter() - t0) * 1000)
            out[str(ctx)] = statistics.median(times)  # as DecodeBenchmark: the mean of the middle two of an even count
    return {"ms_per_token": out}


def check():
    """Chunked (lengths below, equal to and not divisible by the chunk) against the recurrence, every kind."""
    torch.manual_seed(0)
    worst = 0.0
    for kind in KINDS:
        for t in (5, 8, 13):
            layer = LinearAttention(kind, 12, 3, None, 4).double()
            with torch.no_grad():
                if layer.gated:
                    layer.qkv.bias[-3:] = 0.5
                x = layer.qkv(torch.randn(2, t, 12, dtype=torch.float64))
                q, k, v, g, beta = layer.split(x)
                if layer.fmap != "identity" or layer.normalize:
                    q, k = q.abs() + 0.1, k.abs() + 0.1
                full = linear_chunked(q, k, v, g, beta, layer.normalize, 4)
                n = q.shape[0]
                dkf = q.shape[2]
                state = (torch.zeros(n, dkf, v.shape[2], dtype=torch.float64),
                         torch.zeros(n, dkf, dtype=torch.float64) if layer.normalize else None)
                steps = []
                for i in range(t):
                    o, state = linear_recurrent_step(q[:, i], k[:, i], v[:, i], None if g is None else g[:, i],
                                                     None if beta is None else beta[:, i], layer.normalize, state)
                    steps.append(o)
                err = (full - torch.stack(steps, 1)).abs().max().item()
                worst = max(worst, err)
                assert err < 1e-9, f"{kind} T={t}: chunked and recurrent differ by {err}"
    return {"check": "ok", "kinds": len(KINDS), "max_abs_difference": worst}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["train", "decode", "check"], default="train")
    p.add_argument("--attention", default="softmax", choices=["softmax"] + list(KINDS))
    for name, default in [("layers", 3), ("d_model", 128), ("heads", 4), ("d_ff", 512), ("context", 256), ("batch", 16),
                          ("vocab", 256), ("steps", 3), ("warmup", 1), ("threads", 2), ("chunk", 64), ("tokens", 24)]:
        p.add_argument("--" + name.replace("_", "-"), type=int, default=default)
    p.add_argument("--key-dim", type=int, default=None)
    p.add_argument("--compile", action="store_true", help="train: torch.compile the model and loss (inductor)")
    p.add_argument("--serve", action="store_true",
                   help="train: after the warm-up, time 'steps N' slices read from stdin (one JSON line each) until 'quit'")
    p.add_argument("--profile", action="store_true", help="train: 3 more steps under torch.profiler, table to stderr")
    p.add_argument("--decode-contexts", type=lambda s: [int(c) for c in s.split(",")], default=[1024, 8192, 65536])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    result = check() if a.mode == "check" else train(a) if a.mode == "train" else decode(a)
    result.update({"torch": torch.__version__, "threads": torch.get_num_threads()})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
