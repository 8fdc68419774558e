#!/usr/bin/env python3
"""The PyTorch peer for `replicate bench engine`: the identical model and optimizer, timed the same way.

Pre-LN decoder-only transformer (learned positions at the input, GELU tanh, causal softmax attention through
F.scaled_dot_product_attention), Adam, random tokens; prints one JSON line with tokens/s.
Use PyTorch 2.x from PyPI (see ../shared/PERFORMANCE.md):  python3 -m venv V && V/bin/pip install torch
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
for name, default in [("layers", 4), ("d_model", 256), ("heads", 4), ("d_ff", 1024), ("context", 256), ("batch", 16),
                      ("vocab", 256), ("steps", 10), ("warmup", 2), ("threads", 2)]:
    p.add_argument("--" + name.replace("_", "-"), type=int, default=default)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(a.d_model), nn.LayerNorm(a.d_model)
        self.qkv, self.proj = nn.Linear(a.d_model, 3 * a.d_model), nn.Linear(a.d_model, a.d_model)
        self.fc, self.fc_proj = nn.Linear(a.d_model, a.d_ff), nn.Linear(a.d_ff, a.d_model)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = [z.view(b, t, a.heads, c // a.heads).transpose(1, 2) for z in (q, k, v)]
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, c)
        x = x + self.proj(y)
        return x + self.fc_proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok, self.pos = nn.Embedding(a.vocab, a.d_model), nn.Embedding(a.context, a.d_model)
        self.blocks = nn.ModuleList([Block() for _ in range(a.layers)])
        self.ln_f, self.head = nn.LayerNorm(a.d_model), nn.Linear(a.d_model, a.vocab)

    def forward(self, idx):
        x = self.tok(idx) + self.pos(torch.arange(idx.shape[1]))
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln_f(x))


model = LM()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.randint(0, a.vocab, (a.batch, a.context))
y = torch.randint(0, a.vocab, (a.batch, a.context))


def step():
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x).reshape(-1, a.vocab), y.reshape(-1))
    loss.backward()
    opt.step()
    return loss.item()


for _ in range(a.warmup):
    step()
t0 = time.perf_counter()
for _ in range(a.steps):
    step()
dt = time.perf_counter() - t0
print(json.dumps({
    "torch": torch.__version__, "threads": torch.get_num_threads(),
    "params": sum(p.numel() for p in model.parameters()),
    "tokens_per_s": a.steps * a.batch * a.context / dt, "seconds_per_step": dt / a.steps,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
