#!/usr/bin/python3
"""Writes Tests/CoreTests/Fixtures/torch_reference.h5: PyTorch's numbers for the engine's reference test.

Run with Debian's python3-torch and python3-h5py:  /usr/bin/python3 scripts/make_torch_reference.py
Everything is computed in float64, so the Swift Double path can be held to ~1e-10 and the Float path to 1e-4.

Groups:
  lm/    a 2-layer pre-LN causal transformer LM (the engine's TransformerLM, positions added once at the input):
         params/<name> (initial weights), tokens, targets, logits, loss, grads/<name>, and adamw_losses: the loss
         before each of 10 AdamW steps (lr 1e-2, betas 0.9/0.999, eps 1e-8, weight decay 0.1 on linear weights
         only, gradient clipping at global norm 1.0).
  lstm/  a one-layer LSTM (input 5, hidden 6) over 4 steps of batch 3 with a linear head on every step:
         params/<name>, x [T, B, 5], targets, hidden [T, B, 6], loss, grads/<name>, adam_losses (plain Adam,
         lr 1e-2) and sgd_losses (SGD lr 0.1, momentum 0.9, Nesterov, weight decay 0.01 on matrices only).
"""
import math
import os

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CoreTests", "Fixtures", "torch_reference.h5")

V, C, H, FF, LAYERS, B, T = 11, 8, 2, 32, 2, 2, 6


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = [z.view(b, t, H, c // H).transpose(1, 2) for z in (q, k, v)]
        att = q @ k.transpose(-2, -1) / math.sqrt(c // H)
        att = att.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(C, FF)
        self.proj = nn.Linear(FF, C)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.attn, self.ln2, self.mlp = nn.LayerNorm(C), Attention(), nn.LayerNorm(C), MLP()

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok_emb = nn.Embedding(V, C)
        self.pos_emb = nn.Embedding(T, C)
        self.blocks = nn.ModuleList([Block() for _ in range(LAYERS)])
        self.ln_f = nn.LayerNorm(C)
        self.head = nn.Linear(C, V)

    def forward(self, idx):
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(idx.shape[1]))
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln_f(x)).reshape(-1, V)


def randomise(model):
    # Larger than usual initial values, so that every term of every gradient matters.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("ln1.weight") or name.endswith("ln2.weight") or name == "ln_f.weight":
                p.copy_(1 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))


def save_params(g, model, what):
    for name, p in model.named_parameters():
        g.create_dataset(f"{what}/{name}", data=(p.grad if what == "grads" else p).detach().numpy())


def trajectory(model, loss_fn, opt, clip=None, steps=10):
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        losses.append(loss.item())
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
    return np.array(losses)


with h5py.File(OUT, "w") as f:
    f.attrs["made_by"] = "scripts/make_torch_reference.py"
    f.attrs["torch_version"] = str(torch.__version__)

    # --- transformer LM ---
    lm = TinyLM()
    randomise(lm)
    tokens = torch.randint(0, V, (B, T))
    targets = torch.randint(0, V, (B * T,))
    g = f.create_group("lm")
    for k, v in dict(vocab=V, d_model=C, heads=H, d_ff=FF, layers=LAYERS, batch=B, length=T).items():
        g.attrs[k] = v
    save_params(g, lm, "params")
    logits = lm(tokens)
    loss = F.cross_entropy(logits, targets)
    loss.backward()
    g["tokens"] = tokens.reshape(-1).numpy().astype(np.int32)
    g["targets"] = targets.numpy().astype(np.int32)
    g["logits"] = logits.detach().numpy()
    g["loss"] = loss.item()
    save_params(g, lm, "grads")
    decay = [p for n, p in lm.named_parameters() if p.dim() >= 2 and "emb" not in n]
    rest = [p for n, p in lm.named_parameters() if not (p.dim() >= 2 and "emb" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    g["adamw_losses"] = trajectory(lm, lambda: F.cross_entropy(lm(tokens), targets), opt, clip=1.0)

    # --- LSTM ---
    class LSTMNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(5, 6)
            self.head = nn.Linear(6, 7)

        def forward(self, x):
            h, _ = self.lstm(x)
            return h, self.head(h).reshape(-1, 7)

    def lstm_case():
        torch.manual_seed(1)
        net = LSTMNet()
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(0.5 * torch.randn_like(p))
        return net

    net = lstm_case()
    x = torch.randn(4, 3, 5)
    ltargets = torch.randint(0, 7, (12,))
    g = f.create_group("lstm")
    save_params(g, net, "params")
    hidden, logits = net(x)
    loss = F.cross_entropy(logits, ltargets)
    loss.backward()
    g["x"] = x.numpy()
    g["targets"] = ltargets.numpy().astype(np.int32)
    g["hidden"] = hidden.detach().numpy()
    g["loss"] = loss.item()
    save_params(g, net, "grads")
    g["adam_losses"] = trajectory(net, lambda: F.cross_entropy(net(x)[1], ltargets), torch.optim.Adam(net.parameters(), lr=1e-2))
    net = lstm_case()
    mats = [p for n, p in net.named_parameters() if p.dim() >= 2]
    vecs = [p for n, p in net.named_parameters() if p.dim() < 2]
    sgd = torch.optim.SGD([{"params": mats, "weight_decay": 0.01}, {"params": vecs, "weight_decay": 0.0}],
                          lr=0.1, momentum=0.9, nesterov=True)
    g["sgd_losses"] = trajectory(net, lambda: F.cross_entropy(net(x)[1], ltargets), sgd)

print("wrote", os.path.normpath(OUT))
