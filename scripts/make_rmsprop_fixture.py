#!/usr/bin/python3
"""Writes Tests/CoreTests/Fixtures/rmsprop.h5: torch.optim.RMSprop's trajectory for the RMSProp test.

Run with Debian's python3-torch and python3-h5py:  /usr/bin/python3 scripts/make_rmsprop_fixture.py
Everything is float64. Two parameters, named as a ParameterStore names them: `w` a [3, 4] matrix (weight decay
0.01, like the store's `decay` entries) and `b` a [5] vector (no weight decay), in two param groups of one
RMSprop with PyTorch's defaults (alpha 0.99, eps 1e-8, no momentum, not centered). Five steps, each with its own
gradients and learning rate.

Datasets:
  params/<name>         the initial values
  grads/<k>/<name>      the gradients of step k (0-based)
  lrs                   the learning rate of each step
  after/<k>/<name>      the values after step k
  square_avg/<name>     the optimizer's square_avg after the last step
Attributes: alpha, eps, weight_decay (of the matrix's group), steps.
"""
import os

import h5py
import numpy as np
import torch

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CoreTests", "Fixtures", "rmsprop.h5")

STEPS, ALPHA, EPS, WD = 5, 0.99, 1e-8, 0.01
LRS = [1e-2, 5e-3, 2e-2, 1e-3, 1e-2]
SHAPES = {"w": (3, 4), "b": (5,)}

params = {name: torch.randn(shape).requires_grad_() for name, shape in SHAPES.items()}
# Gradients of different scales from step to step, so that the running average matters.
grads = [{name: (0.1 + k) * torch.randn(shape) for name, shape in SHAPES.items()} for k in range(STEPS)]

opt = torch.optim.RMSprop([{"params": [params["w"]], "weight_decay": WD}, {"params": [params["b"]], "weight_decay": 0.0}],
                          lr=LRS[0], alpha=ALPHA, eps=EPS)

with h5py.File(OUT, "w") as f:
    f.attrs["made_by"] = "scripts/make_rmsprop_fixture.py"
    f.attrs["torch_version"] = str(torch.__version__)
    for k, v in dict(alpha=ALPHA, eps=EPS, weight_decay=WD, steps=STEPS).items():
        f.attrs[k] = v
    for name, p in params.items():
        f[f"params/{name}"] = p.detach().numpy()
    f["lrs"] = np.array(LRS)
    for k in range(STEPS):
        for group in opt.param_groups:
            group["lr"] = LRS[k]
        for name, p in params.items():
            p.grad = grads[k][name].clone()
            f[f"grads/{k}/{name}"] = grads[k][name].numpy()
        opt.step()
        for name, p in params.items():
            f[f"after/{k}/{name}"] = p.detach().numpy()
    for name, p in params.items():
        f[f"square_avg/{name}"] = opt.state[p]["square_avg"].numpy()

print("wrote", os.path.normpath(OUT))
