#!/usr/bin/python3
"""Writes Tests/CoreTests/Fixtures/alstm.h5: PyTorch's numbers (float64) for one Associative LSTM layer
(Danihelka, Wayne, Uria, Kalchbrenner, Graves 2016, "Associative Long Short-Term Memory", arXiv 1602.03032;
the "A-LSTM" of Ba et al. 2016, Table 1).

RUN
    /usr/bin/python3 scripts/make_alstm_fixture.py [--out FILE]
Needs Debian's python3-torch (1.13), python3-h5py and python3-numpy; use /usr/bin/python3 explicitly (a pyenv
`python3` on PATH does not see Debian's torch). Deterministic: the same file every run (seeded, CPU, float64).

SOURCES
  [paper] arXiv 1602.03032, section "Associative Long Short-Term Memory". Its full text could not be read while
          writing this script (only the abstract/introduction were reachable), so the paper column below is the
          equations as they are widely quoted and as both public implementations agree with them.
  [mpz]   github.com/mpezeshki/Associative_LSTM (Blocks/Theano), bricks.py class AssociativeLSTM, latest stored
          version (commit ec64841, the one with the `use_W_xu` flag), and holographic_memory.py (complex_mult).
  [jue]   github.com/juesato/rnn AssociativeLSTM.lua (Torch nngraph, one copy only; its later version uses bound()
          for keys and u, its earlier one tanh).
  [dwb]   github.com/dirkweissenborn/dual_am_rnn (TensorFlow "AssociativeGRU", HRR memory with redundant copies;
          not an A-LSTM, cited only for the copy/permutation convention).

EQUATIONS (one layer, one time step; N = R/2 complex units; "(x)" = element-wise complex product; a real vector
of N gates multiplies the real and the imaginary part alike; P_s = fixed permutation of the N complex units)
    a_t    = W_ih x_t + W_hh h_{t-1} + b                                    (a in R^G, G = 3N + 3R = 4.5 R)
    g_f    = sigmoid(a_f),  g_i = sigmoid(a_i),  g_o = sigmoid(a_o)        (each in R^N)
    u      = bound(a_u),    r_i = bound(a_ri),   r_o = bound(a_ro)        (each in C^N, stored as R reals)
    r_i,s  = P_s r_i,       r_o,s = P_s r_o                                 (s = 0 .. copies-1)
    c_s,t  = g_f * c_s,t-1 + r_i,s (x) (g_i * u)                            (one complex cell vector per copy)
    h_t    = g_o * bound( (1/copies) sum_s  r_o,s (x) c_s,t )               (h in C^N, stored as R reals)
    bound(z)_k = z_k / max(1, |z_k|)        per complex component k (real and imaginary part divided alike)
  with zero initial h_0 and c_s,0.

CONVENTIONS (source in brackets)
  * Complex vectors of N = R/2 numbers are stored as R reals: real parts [0, N), imaginary parts [N, R).
    [mpz, jue; our choice for the storage]  The layer's h_t and every cell copy are complex: size R reals.
  * Gates f, i, o: sigmoid, N real values each, shared by the real and imaginary part of a unit. [paper, mpz, jue]
  * Update u: bound(), not tanh. [paper, mpz latest, jue later version]  (Early jue and a TF cell use tanh.)
  * Keys r_i, r_o: bound() per complex component. [paper, mpz, jue]
  * Write: the input gate scales u before binding: r_i,s (x) (g_i * u)  (the same thing as g_i * (r_i,s (x) u),
    the gate being real). [paper, mpz]
  * Read: r_o,s (x) c_s,t with the output key itself, NOT its conjugate: the network learns r_o (it can learn the
    inverse of r_i). [paper, mpz bricks.py, jue]  (The stand-alone HRR demo holographic_memory.py and [dwb]
    read with the conjugate key, which is the textbook HRR; the A-LSTM does not.)
  * Copies: average (mean, 1/copies) of the per-copy reads, THEN one bound(), then the output gate. [paper, mpz]
  * Permutations act on complex-unit indices, the same permutation for the real and the imaginary half
    [mpz: index = cat(perm, perm + N); dwb], as a gather:  (P_s r)[k] = r[perm[s, k]]  for k in [0, N),
    i.e. P_s is the matrix with P_s[k, perm[s, k]] = 1. [mpz: input[:, permutations[s]]]
    Row 0 of `permutations` is the IDENTITY (copy 0 unpermuted), rows 1.. are random. [our choice, as dwb; mpz
    permutes every copy, even when there is only one.] The two are the same model up to relabelling the key
    rows of the weights (put P_0^{-1} into r_i's and r_o's rows), so nothing is lost. Rows 1.. of this fixture are
    chosen to be neither the identity, nor their own inverse, nor each other's inverse, so a scatter-for-gather
    mix-up changes the numbers.
  * The same permutation P_s permutes r_i and r_o (copy s is written and read with the same P_s). [paper, mpz]
  * Forget gate applies to every copy alike; the cells start at zero; h_0 = 0. [mpz; our choice for the fixture]
  * Pre-activation: one bias b [G] (as an nn.Linear on x plus a bias-free one on h). [our choice; mpz has the bias
    on its x->h Linear only, jue likewise]
  * Row order of W_ih, W_hh and b (OURS, fixed for the Swift side):
        [0, N)            forget gate f
        [N, 2N)           input gate i
        [2N, 3N)          output gate o
        [3N, 3N+R)        update u      (real N then imaginary N)
        [3N+R, 3N+2R)     input key r_i (real N then imaginary N)
        [3N+2R, 3N+3R)    output key r_o (real N then imaginary N)
    (mpz orders the blocks i, f, o, r_i, r_o, u; jue f, i, o, r_i, r_o, u; both keep each complex block as real
    part then imaginary part, as here; only the block order differs.)
  * W_hu (the rows of W_hh that feed u) are ordinary free weights here. [paper's general form] Both public
    implementations switch them off in practice (jue: "W_hu = 0"; mpz: use_W_xu=False scales them by 1e-5), so a
    Swift option to zero them is worth having; this fixture tests the general case.
  * bound() is computed as z / sqrt(max(1, re^2 + im^2)): the same value as z / max(1, |z|), but with a finite
    gradient at z = 0 (max(1, sqrt(.)) would give 0 * inf = NaN there). [mpz latest uses exactly this form]
    Where |z| < 1 bound is the identity (derivative 1); where |z| > 1 it is z/|z|. |z| = 1 exactly is a kink;
    this fixture keeps every modulus at least MARGIN away from 1 so both sides agree on the branch.

FIXTURE: R = 8 (N = 4 complex units), In = 5, copies = 3, T = 4, B = 2, G = 36. Random parameters (seed search,
see `pick_seed`) scaled so that both branches of max(1, |z|) occur for each of u, r_i, r_o and the read-out mean.
Loss L = sum(h_T * w_out) with a random w_out [B, R]; gradients by autograd, confirmed by gradcheck.

DATASETS (all float64, row-major, except permutations int64)
  alstm.weight_ih [G, In], alstm.weight_hh [G, R], alstm.bias [G]
  permutations    [copies, N]   int64, row 0 = identity
  x               [T, B, In]    inputs
  h               [T, B, R]     every step's h_t (real | imaginary halves)
  cells           [copies, B, R] final c_s,T (real | imaginary halves)
  w_out           [B, R];  loss  scalar = sum(h[T-1] * w_out)
  grad/alstm.weight_ih, grad/alstm.weight_hh, grad/alstm.bias, grad/x   dL/d(that), same shapes
  debug/preact    [T, B, G]     a_t
  debug/cells     [T, copies, B, R]   c_s,t for every step
  debug/read      [T, B, R]     the mean over copies before the final bound()
  debug/u, debug/r_i, debug/r_o [T, B, R]   bound()ed update and (unpermuted) keys
ROOT ATTRIBUTES: R, N (= R/2), input_size, copies, T, B, G, seed, margin, perm_row0_identity (1),
  permutation_convention, row_layout, complex_layout, bound_form, equations, generated_by, torch_version.
"""
import argparse
import os

import h5py
import numpy as np
import torch

torch.set_default_dtype(torch.float64)

R, IN, COPIES, T, B = 8, 5, 3, 4, 2
N = R // 2
G = 3 * N + 3 * R
MARGIN = 0.02          # every complex modulus fed to bound() stays at least this far from 1
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "Tests", "CoreTests", "Fixtures", "alstm.h5")

# Row blocks of the pre-activation (see the docstring).
F_ROWS, I_ROWS, O_ROWS = slice(0, N), slice(N, 2 * N), slice(2 * N, 3 * N)
U_ROWS = slice(3 * N, 3 * N + R)
RI_ROWS = slice(3 * N + R, 3 * N + 2 * R)
RO_ROWS = slice(3 * N + 2 * R, 3 * N + 3 * R)


# ----------------------------------------------------------------------------------------------------------------
# The layer on real|imaginary halves (what the Swift side implements).

def modulus_sq(z):
    return z[..., :N] ** 2 + z[..., N:] ** 2


def bound(z):
    """z / max(1, |z|) per complex component, written as z / sqrt(max(1, |z|^2)) (finite gradient at z = 0)."""
    d = torch.sqrt(torch.clamp(modulus_sq(z), min=1.0))
    return z / torch.cat([d, d], dim=-1)


def cmul(a, b):
    """Element-wise complex product of two real|imaginary-halves tensors (broadcasting)."""
    ar, ai, br, bi = a[..., :N], a[..., N:], b[..., :N], b[..., N:]
    return torch.cat([ar * br - ai * bi, ar * bi + ai * br], dim=-1)


def permute_keys(key, perms):
    """key [B, R] -> [copies, B, R] with (P_s key)[k] = key[perm[s, k]] on both halves."""
    full = torch.cat([perms, perms + N], dim=1)                   # [copies, R]
    return key[:, full].permute(1, 0, 2)                           # key[:, full] is [B, copies, R]


def alstm(x, w_ih, w_hh, bias, perms, trace=None):
    """Runs the layer over x [T, B, In] from zero state. Returns (h [T, B, R], final cells [copies, B, R])."""
    h = torch.zeros(x.shape[1], R)
    c = torch.zeros(perms.shape[0], x.shape[1], R)
    hs = []
    for t in range(x.shape[0]):
        a = x[t] @ w_ih.T + h @ w_hh.T + bias
        g_f, g_i, g_o = (torch.sigmoid(a[:, rows]).repeat(1, 2) for rows in (F_ROWS, I_ROWS, O_ROWS))
        u, r_i, r_o = bound(a[:, U_ROWS]), bound(a[:, RI_ROWS]), bound(a[:, RO_ROWS])
        c = g_f * c + cmul(permute_keys(r_i, perms), g_i * u)      # [copies, B, R]
        read = cmul(permute_keys(r_o, perms), c).mean(dim=0)       # [B, R]
        h = g_o * bound(read)
        hs.append(h)
        if trace is not None:
            for name, value in (("preact", a), ("cells", c), ("read", read), ("u", u), ("r_i", r_i), ("r_o", r_o)):
                trace.setdefault(name, []).append(value.detach().clone())
    return torch.stack(hs), c


# ----------------------------------------------------------------------------------------------------------------
# An independent statement of the same equations with torch's complex numbers and explicit permutation matrices,
# one batch row at a time. Used only to assert that the halves code above is what the docstring says.

def alstm_complex(x, w_ih, w_hh, bias, perms):
    P = torch.zeros(perms.shape[0], N, N, dtype=torch.complex128)
    for s in range(perms.shape[0]):
        for k in range(N):
            P[s, k, perms[s, k]] = 1                              # P_s[k, perm[s, k]] = 1

    def as_complex(v):
        return torch.complex(v[:N], v[N:])

    def cbound(z):
        return z / torch.clamp(z.abs(), min=1.0)

    hs, cells = [], []
    for b in range(x.shape[1]):
        h = torch.zeros(N, dtype=torch.complex128)
        c = torch.zeros(perms.shape[0], N, dtype=torch.complex128)
        out = []
        for t in range(x.shape[0]):
            a = w_ih @ x[t, b] + w_hh @ torch.cat([h.real, h.imag]) + bias
            g_f, g_i, g_o = torch.sigmoid(a[F_ROWS]), torch.sigmoid(a[I_ROWS]), torch.sigmoid(a[O_ROWS])
            u, r_i, r_o = (cbound(as_complex(a[rows])) for rows in (U_ROWS, RI_ROWS, RO_ROWS))
            c = torch.stack([g_f * c[s] + (P[s] @ r_i) * (g_i * u) for s in range(perms.shape[0])])
            read = sum((P[s] @ r_o) * c[s] for s in range(perms.shape[0])) / perms.shape[0]
            h = g_o * cbound(read)
            out.append(torch.cat([h.real, h.imag]))
        hs.append(torch.stack(out))
        cells.append(torch.cat([c.real, c.imag], dim=1))
    return torch.stack(hs, dim=1), torch.stack(cells, dim=1)


# ----------------------------------------------------------------------------------------------------------------
# Drawing the fixture.

def draw(seed):
    gen = torch.Generator().manual_seed(seed)
    w_ih = 0.6 * torch.randn(G, IN, generator=gen)
    w_hh = 0.6 * torch.randn(G, R, generator=gen)
    bias = 0.3 * torch.randn(G, generator=gen)
    x = torch.randn(T, B, IN, generator=gen)
    w_out = torch.randn(B, R, generator=gen)
    perms = [torch.arange(N)]
    while len(perms) < COPIES:
        p = torch.randperm(N, generator=gen)
        inverse = torch.argsort(p)
        ok = not torch.equal(p, torch.arange(N)) and not torch.equal(p, inverse)
        ok = ok and all(not torch.equal(p, q) and not torch.equal(inverse, q) for q in perms)
        if ok:
            perms.append(p)
    return w_ih, w_hh, bias, x, w_out, torch.stack(perms).to(torch.int64)


def branch_report(trace):
    """For u, r_i, r_o (pre-bound values) and the read-out mean: (#moduli < 1, #moduli > 1, min distance to 1)."""
    pre = torch.stack(trace["preact"])
    values = {"u": pre[..., U_ROWS], "r_i": pre[..., RI_ROWS], "r_o": pre[..., RO_ROWS],
              "read": torch.stack(trace["read"])}
    report = {}
    for name, z in values.items():
        m = modulus_sq(z).sqrt()
        report[name] = (int((m < 1).sum()), int((m > 1).sum()), float((m - 1).abs().min()))
    return report


def pick_seed():
    """The first seed whose draw exercises both branches of bound() for u, r_i, r_o and the read, each modulus at
    least MARGIN away from 1, with a gate range that is not saturated."""
    for seed in range(1000):
        w_ih, w_hh, bias, x, w_out, perms = draw(seed)
        trace = {}
        alstm(x, w_ih, w_hh, bias, perms, trace)
        report = branch_report(trace)
        gates = torch.sigmoid(torch.stack(trace["preact"])[..., :3 * N])
        if all(lo >= 2 and hi >= 2 and gap >= MARGIN for lo, hi, gap in report.values()) and \
                float(gates.min()) > 0.02 and float(gates.max()) < 0.98:
            return seed, report
    raise SystemExit("no seed found")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args()

    seed, report = pick_seed()
    w_ih, w_hh, bias, x, w_out, perms = draw(seed)
    params = {"alstm.weight_ih": w_ih, "alstm.weight_hh": w_hh, "alstm.bias": bias, "x": x}
    for p in params.values():
        p.requires_grad_(True)

    trace = {}
    h, cells = alstm(x, w_ih, w_hh, bias, perms, trace)
    loss = (h[-1] * w_out).sum()
    loss.backward()

    # The halves code is the docstring's equations: complex numbers + permutation matrices agree to rounding.
    with torch.no_grad():
        h_c, cells_c = alstm_complex(x, w_ih, w_hh, bias, perms)
    assert torch.allclose(h, h_c, rtol=0, atol=1e-13), (h - h_c).abs().max()
    assert torch.allclose(cells, cells_c, rtol=0, atol=1e-13), (cells - cells_c).abs().max()
    # The permutations matter: dropping them, or using their inverses (scatter instead of gather), changes h.
    with torch.no_grad():
        h_id, _ = alstm(x, w_ih, w_hh, bias, torch.arange(N).repeat(COPIES, 1))
        h_inv, cells_inv = alstm(x, w_ih, w_hh, bias, torch.argsort(perms, dim=1))
    assert (h - h_id).abs().max() > 1e-3 and (h - h_inv).abs().max() > 1e-3 and (cells - cells_inv).abs().max() > 1e-3
    # Autograd's gradients are the true ones here (no kink of bound() within reach of the finite differences).
    leaves = [t.detach().clone().requires_grad_(True) for t in (w_ih, w_hh, bias, x)]
    assert torch.autograd.gradcheck(lambda a, b_, c_, d: (alstm(d, a, b_, c_, perms)[0][-1] * w_out).sum(),
                                    leaves, eps=1e-6, atol=1e-8, rtol=1e-6)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with h5py.File(args.out, "w") as f:
        for name, p in params.items():
            f.create_dataset(name, data=p.detach().numpy())
            f.create_dataset(f"grad/{name}", data=p.grad.numpy())
        f.create_dataset("permutations", data=perms.numpy().astype(np.int64))
        f.create_dataset("h", data=h.detach().numpy())
        f.create_dataset("cells", data=cells.detach().numpy())
        f.create_dataset("w_out", data=w_out.numpy())
        f.create_dataset("loss", data=np.float64(loss.item()))
        for name, steps in trace.items():
            f.create_dataset(f"debug/{name}", data=torch.stack(steps).numpy())
        attrs = {
            "R": R, "N": N, "input_size": IN, "copies": COPIES, "T": T, "B": B, "G": G, "seed": seed,
            "margin": MARGIN, "perm_row0_identity": 1,
            "permutation_convention": "gather on complex units: (P_s r)[k] = r[perm[s,k]] for k < N, the same "
                                      "for the imaginary half (index perm[s,k] + N); the same P_s for r_i and r_o",
            "row_layout": "f[0,N) i[N,2N) o[2N,3N) u[3N,3N+R) r_i[3N+R,3N+2R) r_o[3N+2R,3N+3R); u, r_i, r_o "
                          "real half then imaginary half",
            "complex_layout": "C^N stored as R = 2N reals: real parts [0,N), imaginary parts [N,R)",
            "bound_form": "z / sqrt(max(1, re^2 + im^2)) per complex unit (= z / max(1, |z|))",
            "equations": "a = W_ih x + W_hh h + b; g_{f,i,o} = sigmoid; u, r_i, r_o = bound; "
                         "c_s = g_f*c_s + (P_s r_i) (x) (g_i*u); h = g_o * bound(mean_s (P_s r_o) (x) c_s); "
                         "h_0 = c_0 = 0; no conjugate on the read key",
            "generated_by": "scripts/make_alstm_fixture.py",
            "torch_version": str(torch.__version__),
        }
        for k, v in attrs.items():
            f.attrs[k] = v

    print(f"wrote {os.path.normpath(args.out)}: seed {seed}, loss {loss.item():.17g}")
    for name, (lo, hi, gap) in report.items():
        print(f"  {name:5s} moduli < 1: {lo:3d}, > 1: {hi:3d}, closest to 1: {gap:.3f}")
    print("  permutations:", perms.tolist())


if __name__ == "__main__":
    main()
