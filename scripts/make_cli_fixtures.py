#!/usr/bin/python3
"""Writes Tests/ReplicateTests/Fixtures/h5py_metrics.h5: a metrics file as h5py (not our store) writes it.

Run with Debian's python3-h5py: /usr/bin/python3 scripts/make_cli_fixtures.py
The CLI tests check that `replicate inspect` shows exactly these values.
"""
import os
import h5py
import numpy as np

out = os.path.join(os.path.dirname(__file__), "..", "Tests", "ReplicateTests", "Fixtures", "h5py_metrics.h5")
with h5py.File(out, "w") as f:
    f.attrs["command"] = "replicate demo --steps 5"
    f.attrs["seed"] = np.int64(1234)
    train = f.create_group("train")
    train.create_dataset("step", data=np.arange(1, 6, dtype=np.int64), maxshape=(None,), chunks=(16,))
    train.create_dataset("loss", data=np.array([3.5, 3.0, 2.5, 2.25, 2.125]), maxshape=(None,), chunks=(16,))
    f.create_dataset("params/embedding", data=np.zeros((4, 3), dtype=np.float32))
print("wrote", os.path.normpath(out))
