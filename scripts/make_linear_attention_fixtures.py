#!/usr/bin/python3
"""Writes Tests/CoreTests/Fixtures/linear_attention.h5: reference numbers for the linear-attention kernels, taken
from flash-linear-attention's (fla-core 0.6.0) pure-PyTorch "naive" recurrences, in float64.

INSTALL (Debian 12, as root; Debian's torch 1.13 is fine, no GPU and no triton needed)
    apt-get update && apt-get install -y python3-torch python3-h5py python3-numpy python3-pip
    /usr/bin/python3 -m pip install --break-system-packages einops      # the naive files do `from einops import ...`
    /usr/bin/python3 -m pip download --no-deps fla-core==0.6.0 -d /tmp/fla
    mkdir -p /tmp/fla_src && cd /tmp/fla_src && /usr/bin/python3 -m zipfile -e /tmp/fla/fla_core-0.6.0-py3-none-any.whl .
(Alternatively `pip install --no-deps --target /tmp/fla_pkg einops` and put /tmp/fla_pkg on PYTHONPATH.)
Use /usr/bin/python3 explicitly: a pyenv `python3` on PATH does not see Debian's torch.

RUN
    /usr/bin/python3 scripts/make_linear_attention_fixtures.py [--fla-src DIR] [--out FILE]
DIR (the unpacked wheel, the folder that holds fla/) defaults to $FLA_SRC, else /tmp/fla_src.

HOW FLA IS LOADED
`import fla` would import triton, so the package is never imported. Each of these four files is read as text and
executed as a stand-alone module (importlib.util.spec_from_file_location + a patched source, see below):
    fla/ops/linear_attn/naive.py        naive_recurrent_linear_attn
    fla/ops/delta_rule/naive.py         delta_rule_recurrence
    fla/ops/gated_delta_rule/naive.py   naive_recurrent_gated_delta_rule
    fla/ops/simple_gla/naive.py         naive_recurrent_simple_gla
Every one of them hard-casts its inputs to float32 (`.to(torch.float32)` / `.float()`). To get float64 fixtures the
source text is patched before execution: `torch.float32` -> `torch.float64`, `.float()` -> `.double()`,
`dtype=torch.float,` -> `dtype=torch.float64,` (nothing else changes). The script asserts that each patched function
agrees with the UNPATCHED original run in float32 (to float32 accuracy) and, in float64, with the plain Python loops
below (to 1e-12, outputs, final states and all gradients), so the equations written here are what fla computes.
The DPFP feature map (fla/modules/feature_map.py, DPFPFeatureMap.forward) is copied into this file; its class is
also pulled out of fla's source with `ast` and executed, and the copy is asserted equal to it.

LAYOUTS
Stored (ours): q, k [B,H,T,Dk]; v, o [B,H,T,Dv]; beta, g [B,H,T]; S0, S [B,H,Dk,Dv] with S[i,j] = key dim i, value
dim j, and every read is o[j] = sum_i S[i,j] q[i]  (o = S^T q).  B=2, H=2, T=7, Dk=4, Dv=3.
fla's layouts: naive_recurrent_linear_attn, naive_recurrent_simple_gla and naive_recurrent_gated_delta_rule take
q,k,v as [B,T,H,D] and g, beta as [B,T,H] and return o as [B,T,H,Dv]; delta_rule_recurrence takes and returns
[B,H,T,D] (beta [B,H,T]). All four keep the state as [B,H,Dk,Dv] (the same as ours). The script transposes dims 1,2.

EQUATIONS (per batch b and head h; vectors q_t, k_t in R^Dk, v_t in R^Dv; S in R^{Dk x Dv}; t = 1..T;
S_0 = S0 if given else 0; "scale" always multiplies q only, before the read)
* naive_recurrent_linear_attn(q, k, v, scale, initial_state, output_final_state, normalize)
    S_t = S_{t-1} + k_t v_t^T                       (update FIRST: the current token is included in its own read)
    n_t = S_t^T (scale * q_t)
    normalize=False: o_t = n_t
    normalize=True : z_t = k_1 + ... + k_t          (inclusive cumsum of the keys, z_0 = 0; S0 is NOT added to z --
                                                     only a tuple initial_state (S0, z0) seeds z, not used here)
                     o_t = n_t / ((scale * q_t) . z_t + 1e-10)   (eps 1e-10 ADDED to the signed denominator, no
                                                                  abs/clamp; the same scale appears in both parts)
    final state S = S_T (with normalize=True fla returns the tuple (S_T, z_T); z_T is stored as "z" for reference).
    scale=None would mean Dk^-0.5; this script always passes scale=1.0.
* naive_recurrent_simple_gla(q, k, v, g, scale, initial_state, output_final_state)   (g: log-decay, [B,T,H])
    S_t = exp(g_t) * S_{t-1} + k_t v_t^T            (decay the old state, then add the current token undecayed)
    o_t = S_t^T (scale * q_t)
* delta_rule_recurrence(q, k, v, beta, initial_state, output_final_state)   (no scale argument!)
    q_t <- Dk^-0.5 * q_t                            (hard-coded)
    u_t = beta_t * (v_t - S_{t-1}^T k_t)            (prediction read from the OLD state)
    S_t = S_{t-1} + k_t u_t^T                       (= (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T)
    o_t = S_t^T q_t                                 (read after the update)
* naive_recurrent_gated_delta_rule(q, k, v, beta, g, scale, initial_state, output_final_state)
  (argument order is beta THEN g; fla's naive_chunk_gated_delta_rule takes g then beta)
    S'_t = exp(g_t) * S_{t-1}                       (decay first)
    u_t  = beta_t * (v_t - S'_t^T k_t)              (prediction read from the DECAYED old state)
    S_t  = S'_t + k_t u_t^T
    o_t  = S_t^T (scale * q_t)

CASES (HDF5 groups). Raw inputs are stored; feature maps / normalisations are applied in torch before the fla call,
so every gradient is with respect to the stored raw input. Loss L = sum(o * wo) + sum(S * wS), wo and wS stored.
Gradients: d<name> = dL/d<name> for every stored input (dq, dk, dv, and dS0 / dbeta / dg / da where present).
  linear            phi = id; naive_recurrent_linear_attn(normalize=False, scale=1):  S_t = S_{t-1} + k_t v_t^T,
                    o_t = S_t^T q_t
  linear_s0         as linear with a random initial state S0 (stored, with dS0)
  linear_normalized raw q, k = softplus(randn) + 0.1 (so the denominators stay away from 0), phi = id,
                    normalize=True, scale=1: o_t = S_t^T q_t / (q_t . sum_{s<=t} k_s + 1e-10)
  elu1              phi(x) = elu(x) + 1 (elu alpha 1) on q and k, then as linear_normalized:
                    o_t = S_t^T phi(q_t) / (phi(q_t) . sum_{s<=t} phi(k_s) + 1e-10), S_t = S_{t-1} + phi(k_t) v_t^T
  decayed_fixed     S_t = lambda S_{t-1} + eta k_t v_t^T, o_t = S_t^T q_t, lambda = 0.9, eta = 0.5: simple_gla with
                    g_t = log(lambda) for every token, k replaced by eta * k, scale 1
  decayed_learned   the same with eta = 1 and a per-head lambda_h = sigmoid(a_h) (stored a [H]; lambda = 0.8, 0.95),
                    g_t = logsigmoid(a_h); gradient "da" [H]
  delta             qn = q / max(||q||_2, 1e-12), kn likewise (torch.nn.functional.normalize over the last dim),
                    beta = sigmoid(beta_raw) (stored "beta" is RAW, "dbeta" w.r.t. raw); delta_rule_recurrence, so
                    reads use Dk^-0.5 * qn (scale = 0.5): u_t = beta_t (v_t - S_{t-1}^T kn_t),
                    S_t = S_{t-1} + kn_t u_t^T, o_t = S_t^T (0.5 qn_t); no initial state
  delta_s0          the same with a random initial state S0
  gated_delta       qn, kn, beta as in delta, g = logsigmoid(g_raw) (stored "g" is RAW, "dg" w.r.t. raw),
                    naive_recurrent_gated_delta_rule with scale = Dk^-0.5 = 0.5 and a random S0:
                    S'_t = exp(g_t) S_{t-1}, u_t = beta_t (v_t - S'_t^T kn_t), S_t = S'_t + kn_t u_t^T,
                    o_t = S_t^T (0.5 qn_t)
  dpfp1/2/3         DPFP feature map (Schlag et al. 2021), nu = 1, 2, 3, on x [B,H,T,Dk]; stores x, phi
                    [B,H,T,2*nu*Dk], w (random, shape of phi) and dx = d sum(phi * w) / dx. fla's formula:
                        r   = cat([relu(x), relu(-x)], -1)                       (size 2Dk)
                        phi = cat([r * roll(r, j, -1) for j in 1..nu], -1)        (size 2*nu*Dk)
                    i.e. with D2 = 2Dk and torch.roll's convention roll(r, j)[i] = r[(i - j) mod D2]:
                        phi[(j-1)*D2 + i] = r[i] * r[(i - j) mod D2],  i = 0..D2-1, j = 1..nu
                    (the paper writes r_i r_{i+nu}; fla's blocks are the same products cyclically shifted by j.)
                    relu'(0) is taken as 0 (torch); random x never hits 0.

ATTRIBUTES per group: kernel (the fla function), feature_map, scale (double), normalize (int 0/1), equation (one
line); decayed_*: lambda (double / doubles [H]), eta; dpfp*: nu, out_dim (= 2*nu*Dk). Root: generated_by,
fla_core_version, torch_version, B, H, T, Dk, Dv. All datasets are float64, contiguous, uncompressed.
"""
import argparse
import ast
import importlib.util
import math
import os
import re
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

B, H, T, DK, DV = 2, 2, 7, 4, 3
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "Tests", "CoreTests", "Fixtures", "linear_attention.h5")

NAIVE = {
    "naive_recurrent_linear_attn": "fla/ops/linear_attn/naive.py",
    "delta_rule_recurrence": "fla/ops/delta_rule/naive.py",
    "naive_recurrent_gated_delta_rule": "fla/ops/gated_delta_rule/naive.py",
    "naive_recurrent_simple_gla": "fla/ops/simple_gla/naive.py",
}
MODULE_OF = {name: path[:-3].replace("/", ".") + "." + name for name, path in NAIVE.items()}   # "kernel" attribute


# ----------------------------------------------------------------------------------------------------------------
# Loading fla's naive files without importing the fla package (which needs triton).

def load_file(path, name, to_float64):
    """Executes one .py file as a module. With to_float64 its hard-coded float32 casts are turned into float64."""
    with open(path) as f:
        src = f.read()
    if to_float64:
        src, n1 = re.subn(r"torch\.float32\b", "torch.float64", src)
        src, n2 = re.subn(r"\.float\(\)", ".double()", src)
        src, n3 = re.subn(r"dtype=torch\.float,", "dtype=torch.float64,", src)
        assert n1 + n2 + n3 > 0, path
        assert "float32" not in src and ".float()" not in src, path
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    exec(compile(src, path, "exec"), mod.__dict__)
    return mod


def load_fla(root):
    f64, f32 = {}, {}
    for fn, rel in NAIVE.items():
        path = os.path.join(root, rel)
        if not os.path.isfile(path):
            sys.exit(f"missing {path}: unpack fla-core 0.6.0 there (see the docstring) or pass --fla-src")
        f64[fn] = getattr(load_file(path, "fla64_" + fn, True), fn)
        f32[fn] = getattr(load_file(path, "fla32_" + fn, False), fn)
    # fla's own DPFPFeatureMap class, cut out of feature_map.py (whose imports pull in triton).
    fm_path = os.path.join(root, "fla/modules/feature_map.py")
    with open(fm_path) as f:
        fm_src = f.read()
    node = next(n for n in ast.parse(fm_src).body if isinstance(n, ast.ClassDef) and n.name == "DPFPFeatureMap")
    ns = {"torch": torch, "nn": torch.nn}
    exec(ast.get_source_segment(fm_src, node), ns)
    with open(os.path.join(root, "fla/__init__.py")) as f:
        version = re.search(r"__version__\s*=\s*['\"]([^'\"]+)['\"]", f.read()).group(1)
    return f64, f32, ns["DPFPFeatureMap"], version


# ----------------------------------------------------------------------------------------------------------------
# Plain loops over the docstring's equations, in OUR layout ([B,H,T,D], S [B,H,Dk,Dv]). Used only for asserts.

def loop_linear(q, k, v, scale, S0=None, normalize=False):
    outs, finals, zs = [], [], []
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            S = S0[b, h] if S0 is not None else torch.zeros(q.shape[-1], v.shape[-1])
            z = torch.zeros(q.shape[-1])
            for t in range(q.shape[2]):
                S = S + torch.outer(k[b, h, t], v[b, h, t])
                z = z + k[b, h, t]
                qs = scale * q[b, h, t]
                o = S.T @ qs
                if normalize:
                    o = o / (qs @ z + 1e-10)
                outs.append(o)
            finals.append(S)
            zs.append(z)
    o = torch.stack(outs).reshape(*q.shape[:3], v.shape[-1])
    return o, torch.stack(finals).reshape(*q.shape[:2], *finals[0].shape), torch.stack(zs).reshape(*q.shape[:2], -1)


def loop_simple_gla(q, k, v, g, scale, S0=None):
    outs, finals = [], []
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            S = S0[b, h] if S0 is not None else torch.zeros(q.shape[-1], v.shape[-1])
            for t in range(q.shape[2]):
                S = torch.exp(g[b, h, t]) * S + torch.outer(k[b, h, t], v[b, h, t])
                outs.append(S.T @ (scale * q[b, h, t]))
            finals.append(S)
    return torch.stack(outs).reshape(*q.shape[:3], v.shape[-1]), torch.stack(finals).reshape(*q.shape[:2], *S.shape)


def loop_gated_delta(q, k, v, beta, g, scale, S0=None):
    """g=None gives the plain delta rule (no decay)."""
    outs, finals = [], []
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            S = S0[b, h] if S0 is not None else torch.zeros(q.shape[-1], v.shape[-1])
            for t in range(q.shape[2]):
                if g is not None:
                    S = torch.exp(g[b, h, t]) * S
                u = beta[b, h, t] * (v[b, h, t] - S.T @ k[b, h, t])
                S = S + torch.outer(k[b, h, t], u)
                outs.append(S.T @ (scale * q[b, h, t]))
            finals.append(S)
    return torch.stack(outs).reshape(*q.shape[:3], v.shape[-1]), torch.stack(finals).reshape(*q.shape[:2], *S.shape)


def dpfp(x, nu):
    """Copied from fla/modules/feature_map.py, DPFPFeatureMap.forward."""
    x = torch.cat([x.relu(), (-x).relu()], dim=-1)
    x_rolled = torch.cat([x.roll(shifts=j, dims=-1) for j in range(1, nu + 1)], dim=-1)
    x_repeat = torch.cat([x] * nu, dim=-1)
    return x_repeat * x_rolled


def dpfp_loop(x, nu):
    r = torch.cat([x.relu(), (-x).relu()], dim=-1)
    d2 = r.shape[-1]
    cols = [r[..., i] * r[..., (i - j) % d2] for j in range(1, nu + 1) for i in range(d2)]
    return torch.stack(cols, dim=-1)


# ----------------------------------------------------------------------------------------------------------------

def tr(x):
    """Swaps dims 1 and 2: our [B,H,T,...] <-> fla's [B,T,H,...]."""
    return x.transpose(1, 2)


def close(a, b, tol, what):
    err = (a - b).abs().max().item() / max(b.abs().max().item(), 1e-300)
    assert err < tol, f"{what}: relative error {err:.3e} >= {tol}"


class Case:
    def __init__(self, name, kernel, feature_map, scale, normalize, equation, **extra_attrs):
        self.name, self.attrs = name, dict(kernel=kernel, feature_map=feature_map, scale=float(scale),
                                          normalize=int(normalize), equation=equation, **extra_attrs)
        self.inputs, self.outputs = {}, {}

    def leaf(self, name, x):
        x = x.clone().requires_grad_(True)
        self.inputs[name] = x
        return x


def randn(*shape):
    return torch.randn(*shape)


def run_recurrent(case, forward, loop, f32_forward):
    """forward(inputs) -> (o [B,H,T,Dv], S [B,H,Dk,Dv], extras dict) through fla (float64 patch);
    loop(inputs) -> the same through the docstring's loops; f32_forward(inputs) -> (o, S) through unpatched fla."""
    o, S, extras = forward(case.inputs)
    wo, wS = randn(*o.shape), randn(*S.shape)
    loss = (o * wo).sum() + (S * wS).sum()
    names = list(case.inputs)
    grads = torch.autograd.grad(loss, [case.inputs[n] for n in names])

    # 1) the docstring's loops reproduce fla: outputs, final state and every gradient.
    lo, lS = loop(case.inputs)
    close(lo, o, 1e-12, case.name + " o vs loop")
    close(lS, S, 1e-12, case.name + " S vs loop")
    lgrads = torch.autograd.grad((lo * wo).sum() + (lS * wS).sum(), [case.inputs[n] for n in names])
    for n, g1, g2 in zip(names, grads, lgrads):
        close(g2, g1, 1e-10, f"{case.name} d{n} vs loop")
    # 2) the float64 patch changes nothing but precision: the unpatched (float32) function agrees.
    with torch.no_grad():
        fo, fS = f32_forward({n: x.detach().float() for n, x in case.inputs.items()})
    assert fo.dtype == torch.float32
    close(fo.double(), o, 1e-5, case.name + " o float32 original vs float64 patch")
    close(fS.double(), S, 1e-5, case.name + " S float32 original vs float64 patch")

    case.outputs.update(o=o, S=S, wo=wo, wS=wS, **extras)
    for n, g in zip(names, grads):
        case.outputs["d" + n] = g
    return case


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fla-src", default=os.environ.get("FLA_SRC", "/tmp/fla_src"),
                    help="folder holding the unpacked fla-core 0.6.0 wheel (env FLA_SRC, default /tmp/fla_src)")
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()

    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    fla64, fla32, DPFPFeatureMap, version = load_fla(args.fla_src)
    lin, sgla = fla64["naive_recurrent_linear_attn"], fla64["naive_recurrent_simple_gla"]
    delta, gdelta = fla64["delta_rule_recurrence"], fla64["naive_recurrent_gated_delta_rule"]
    lin32, sgla32 = fla32["naive_recurrent_linear_attn"], fla32["naive_recurrent_simple_gla"]
    delta32, gdelta32 = fla32["delta_rule_recurrence"], fla32["naive_recurrent_gated_delta_rule"]
    cases = []

    # ---- linear attention: linear, linear_s0, linear_normalized, elu1
    def linear_case(name, phi_name, phi, normalize, with_s0, positive):
        def fm(x):
            return phi(x) if phi is not None else x
        eq = ("o_t = S_t^T q_t / (q_t . sum_{s<=t} k_s + 1e-10), S_t = S_{t-1} + k_t v_t^T" if normalize else
              "S_t = S_{t-1} + k_t v_t^T, o_t = S_t^T q_t")
        if phi is not None:
            eq = eq.replace("q_t", "phi(q_t)").replace("k_t", "phi(k_t)").replace("k_s", "phi(k_s)") + \
                ", phi(x) = elu(x) + 1"
        if with_s0:
            eq += ", S_0 = S0"
        c = Case(name, MODULE_OF["naive_recurrent_linear_attn"], phi_name, 1.0, normalize, eq)
        draw = (lambda *s: F.softplus(randn(*s)) + 0.1) if positive else randn
        c.leaf("q", draw(B, H, T, DK))
        c.leaf("k", draw(B, H, T, DK))
        c.leaf("v", randn(B, H, T, DV))
        if with_s0:
            c.leaf("S0", randn(B, H, DK, DV))

        def call(fn, x):
            r = fn(tr(fm(x["q"])), tr(fm(x["k"])), tr(x["v"]), scale=1.0, initial_state=x.get("S0"),
                   output_final_state=True, normalize=normalize)
            return r

        def forward(x):
            o, st = call(lin, x)
            if normalize:
                S, z = st                        # z: [B,1,H,Dk]
                return tr(o), S, {"z": z[:, 0]}
            return tr(o), st, {}

        def f32(x):
            o, st = call(lin32, x)
            return tr(o), (st[0] if normalize else st)

        def loop(x):
            o, S, _ = loop_linear(fm(x["q"]), fm(x["k"]), x["v"], 1.0, x.get("S0"), normalize)
            return o, S
        cases.append(run_recurrent(c, forward, loop, f32))
        if normalize:   # also check the normaliser state z against the loop
            _, _, lz = loop_linear(fm(c.inputs["q"]), fm(c.inputs["k"]), c.inputs["v"], 1.0, None, True)
            close(lz, c.outputs["z"], 1e-12, name + " z vs loop")
            den = (fm(c.inputs["q"]) * torch.cumsum(fm(c.inputs["k"]), 2)).sum(-1)
            assert den.min() > 0.05, den.min()

    linear_case("linear", "identity", None, False, False, False)
    linear_case("linear_s0", "identity", None, False, True, False)
    linear_case("linear_normalized", "identity", None, True, False, True)
    linear_case("elu1", "elu+1", lambda x: F.elu(x) + 1.0, True, False, False)

    # ---- decayed fast weights via simple_gla: decayed_fixed, decayed_learned
    lam, eta = 0.9, 0.5
    c = Case("decayed_fixed", MODULE_OF["naive_recurrent_simple_gla"], "identity", 1.0, False,
             "S_t = lambda S_{t-1} + eta k_t v_t^T, o_t = S_t^T q_t (simple_gla with g_t = log(lambda), k -> eta k)",
             **{"lambda": lam, "eta": eta})
    for n, d in (("q", DK), ("k", DK), ("v", DV)):
        c.leaf(n, randn(B, H, T, d))
    g_fixed = torch.full((B, H, T), math.log(lam))

    def fixed_call(fn, x):
        o, S = fn(tr(x["q"]), tr(eta * x["k"]), tr(x["v"]), tr(g_fixed.to(x["q"].dtype)), scale=1.0,
                  initial_state=None, output_final_state=True)
        return tr(o), S
    cases.append(run_recurrent(c, lambda x: (*fixed_call(sgla, x), {}),
                               lambda x: loop_simple_gla(x["q"], eta * x["k"], x["v"], g_fixed, 1.0),
                               lambda x: fixed_call(sgla32, x)))
    # the docstring's closed form, independently of simple_gla's g convention:
    S = torch.zeros(B, H, DK, DV)
    for t in range(T):
        S = lam * S + eta * c.inputs["k"][:, :, t, :, None] * c.inputs["v"][:, :, t, None, :]
        close(torch.einsum("bhij,bhi->bhj", S, c.inputs["q"][:, :, t]), c.outputs["o"][:, :, t], 1e-12, "decayed closed form")
    close(S, c.outputs["S"], 1e-12, "decayed closed form S")

    lams = torch.tensor([0.8, 0.95])
    c = Case("decayed_learned", MODULE_OF["naive_recurrent_simple_gla"], "identity", 1.0, False,
             "S_t = lambda_h S_{t-1} + k_t v_t^T, o_t = S_t^T q_t, lambda_h = sigmoid(a_h) (g_t = logsigmoid(a_h))",
             **{"lambda": lams.numpy(), "eta": 1.0})
    for n, d in (("q", DK), ("k", DK), ("v", DV)):
        c.leaf(n, randn(B, H, T, d))
    c.leaf("a", torch.log(lams / (1 - lams)))

    def learned_g(a):
        return F.logsigmoid(a)[None, :, None].expand(B, H, T)

    def learned_call(fn, x):
        o, S = fn(tr(x["q"]), tr(x["k"]), tr(x["v"]), tr(learned_g(x["a"])), scale=1.0,
                  initial_state=None, output_final_state=True)
        return tr(o), S
    cases.append(run_recurrent(c, lambda x: (*learned_call(sgla, x), {}),
                               lambda x: loop_simple_gla(x["q"], x["k"], x["v"], learned_g(x["a"]), 1.0),
                               lambda x: learned_call(sgla32, x)))
    close(torch.sigmoid(c.inputs["a"]).detach(), lams, 1e-12, "lambda = sigmoid(a)")

    # ---- delta rule: delta, delta_s0; gated delta rule: gated_delta
    def l2(x):
        return F.normalize(x, p=2, dim=-1)

    for name, with_s0 in (("delta", False), ("delta_s0", True)):
        eq = ("u_t = beta_t (v_t - S_{t-1}^T kn_t), S_t = S_{t-1} + kn_t u_t^T, o_t = S_t^T (Dk^-0.5 qn_t), "
              "qn = q/|q|, kn = k/|k|, beta_t = sigmoid(beta_raw_t)" + (", S_0 = S0" if with_s0 else ""))
        c = Case(name, MODULE_OF["delta_rule_recurrence"], "l2norm(q), l2norm(k), sigmoid(beta)", DK ** -0.5, False, eq)
        for n, d in (("q", DK), ("k", DK), ("v", DV)):
            c.leaf(n, randn(B, H, T, d))
        c.leaf("beta", randn(B, H, T))
        if with_s0:
            c.leaf("S0", randn(B, H, DK, DV))

        def delta_call(fn, x):   # delta_rule_recurrence works in [B,H,T,D] already: no transposes
            o, S = fn(l2(x["q"]), l2(x["k"]), x["v"], torch.sigmoid(x["beta"]), initial_state=x.get("S0"),
                      output_final_state=True)
            return o, S
        cases.append(run_recurrent(
            c, lambda x: (*delta_call(delta, x), {}),
            lambda x: loop_gated_delta(l2(x["q"]), l2(x["k"]), x["v"], torch.sigmoid(x["beta"]), None, DK ** -0.5,
                                       x.get("S0")),
            lambda x: delta_call(delta32, x)))

    c = Case("gated_delta", MODULE_OF["naive_recurrent_gated_delta_rule"],
             "l2norm(q), l2norm(k), sigmoid(beta), logsigmoid(g)", DK ** -0.5, False,
             "S'_t = exp(g_t) S_{t-1}, u_t = beta_t (v_t - S'_t^T kn_t), S_t = S'_t + kn_t u_t^T, "
             "o_t = S_t^T (scale qn_t), scale = Dk^-0.5, qn = q/|q|, kn = k/|k|, beta_t = sigmoid(beta_raw_t), "
             "g_t = logsigmoid(g_raw_t), S_0 = S0")
    for n, d in (("q", DK), ("k", DK), ("v", DV)):
        c.leaf(n, randn(B, H, T, d))
    c.leaf("beta", randn(B, H, T))
    c.leaf("g", randn(B, H, T))
    c.leaf("S0", randn(B, H, DK, DV))

    def gdelta_call(fn, x):   # note the argument order: beta before g
        o, S = fn(tr(l2(x["q"])), tr(l2(x["k"])), tr(x["v"]), beta=tr(torch.sigmoid(x["beta"])),
                  g=tr(F.logsigmoid(x["g"])), scale=DK ** -0.5, initial_state=x["S0"], output_final_state=True)
        return tr(o), S
    cases.append(run_recurrent(
        c, lambda x: (*gdelta_call(gdelta, x), {}),
        lambda x: loop_gated_delta(l2(x["q"]), l2(x["k"]), x["v"], torch.sigmoid(x["beta"]), F.logsigmoid(x["g"]),
                                   DK ** -0.5, x["S0"]),
        lambda x: gdelta_call(gdelta32, x)))

    # ---- DPFP feature map
    for nu in (1, 2, 3):
        c = Case(f"dpfp{nu}", "fla.modules.feature_map.DPFPFeatureMap (formula copied)", f"dpfp(nu={nu})", 1.0, False,
                 f"r = [relu(x), relu(-x)], phi[(j-1)*2Dk + i] = r[i] * r[(i - j) mod 2Dk], j = 1..{nu}",
                 nu=nu, out_dim=2 * nu * DK)
        x = c.leaf("x", randn(B, H, T, DK))
        phi = dpfp(x, nu)
        assert phi.shape == (B, H, T, 2 * nu * DK)
        close(DPFPFeatureMap(DK, nu=nu)(x), phi, 1e-15, f"dpfp{nu} copy vs fla's class")
        close(dpfp_loop(x, nu), phi, 1e-15, f"dpfp{nu} index formula")
        w = randn(*phi.shape)
        (dx,) = torch.autograd.grad((phi * w).sum(), [x])
        c.outputs.update(phi=phi, w=w, dx=dx)
        cases.append(c)

    # ---- write
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with h5py.File(args.out, "w") as f:
        f.attrs["generated_by"] = "scripts/make_linear_attention_fixtures.py"
        f.attrs["fla_core_version"] = version
        f.attrs["torch_version"] = str(torch.__version__)
        for k, v in dict(B=B, H=H, T=T, Dk=DK, Dv=DV).items():
            f.attrs[k] = v
        for c in cases:
            g = f.create_group(c.name)
            for k, v in c.attrs.items():
                g.attrs[k] = v
            for n, t in {**c.inputs, **c.outputs}.items():
                a = t.detach().numpy().astype(np.float64)
                assert np.isfinite(a).all(), (c.name, n)
                g.create_dataset(n, data=np.ascontiguousarray(a))
    print(f"wrote {os.path.normpath(args.out)} ({os.path.getsize(args.out)} bytes), fla-core {version}:")
    with h5py.File(args.out, "r") as f:
        for name, grp in f.items():
            print(f"  {name}: " + ", ".join(f"{n}{list(d.shape)}" for n, d in grp.items()))


if __name__ == "__main__":
    main()
