#!/usr/bin/env python3
"""Writes Tests/CoreTests/Fixtures/cloze_readers.h5: PyTorch's numbers (float64) for de Brebisson & Vincent's
reading-comprehension model with each reader (softmax, linear, gated linear, none), unidirectional and
bidirectional, on one padded batch.

RUN
    PY scripts/make_cloze_fixture.py [--out FILE]
where PY is any python3 with torch (>= 1.13) and h5py, e.g. a venv with the PyPI wheels or Debian's
/usr/bin/python3 with python3-torch and python3-h5py. Deterministic (seeded, CPU, float64).

THE MODEL (Sources/Papers/Brebisson2016/ClozeModel.swift is the Swift side)
    embeddings E shared by story and query; torch.nn.GRU over the story and over the query, run on
    pack_padded_sequence (so padding never enters a state); H = story states [B, T, d] (zero where padded), q =
    the query GRU's final state (both directions' final states, concatenated, when bidirectional).
    softmax:       a = softmax_t(h_t . q) over the real positions, read = sum_t a_t h_t
    linear:        C = sum_t h_t h_t^T (real positions), read = C q / T        (formed as a d x d matrix here)
    gated linear:  C = sum_t g_t h_t h_t^T, g_t = sigmoid(w . h_t + b), read = C q / T
    none:          read = the story GRU's final state (h_n of each direction)
    out = tanh(W_a read + W_q q + b_q); logits = W_c out + b_c, -1e9 added outside the candidates;
    loss = mean cross-entropy of the answers.
Parameter names are PyTorch's (embedding.weight, story_gru.weight_ih_l0[_reverse], ..., gate.weight, gate.bias,
out_read.weight, out_query.weight, out_query.bias, classifier.weight, classifier.bias).

FILE LAYOUT: attributes vocabulary, entities, embedding, hidden, output; datasets story_ids [B, T] (0 = padding),
story_lengths, query_ids [B, Tq], query_lengths, answers, candidate_mask [B, entities] (1 = candidate); one group
per configuration <reader>_<uni|bi> with params/<name>, grad/<name>, logits [B, entities], loss.
"""
import argparse

import h5py
import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

V, ENT, EMB, HID, OUT = 14, 6, 5, 4, 3
STORIES = [[3, 7, 9, 4, 11, 2, 5], [8, 3, 10, 12], [6, 4, 9, 13, 3]]
QUERIES = [[2, 7, 5], [9, 2], [4, 2, 13]]
CANDIDATES = [[0, 2, 4], [1, 3], [0, 1, 5]]
ANSWERS = [2, 3, 5]


def pad(seqs):
    t = max(len(s) for s in seqs)
    return torch.tensor([s + [0] * (t - len(s)) for s in seqs]), torch.tensor([len(s) for s in seqs])


def run(reader, bidirectional, seed):
    torch.manual_seed(seed)
    d = HID * (2 if bidirectional else 1)
    emb = torch.nn.Embedding(V, EMB).double()
    story_gru = torch.nn.GRU(EMB, HID, batch_first=True, bidirectional=bidirectional).double()
    query_gru = torch.nn.GRU(EMB, HID, batch_first=True, bidirectional=bidirectional).double()
    out_read = torch.nn.Linear(d, OUT, bias=False).double()
    out_query = torch.nn.Linear(d, OUT).double()
    classifier = torch.nn.Linear(OUT, ENT).double()
    modules = {"embedding": emb, "story_gru": story_gru, "query_gru": query_gru, "out_read": out_read,
               "out_query": out_query, "classifier": classifier}
    if reader == "gated-linear":
        gate = torch.nn.Linear(d, 1).double()  # random, not the (0, 1) start, so that the gate matters here
        modules["gate"] = gate
    with torch.no_grad():
        for m in modules.values():
            for p in m.parameters():
                p.mul_(2.0)  # larger than PyTorch's defaults, so that the readers differ clearly

    story, story_len = pad(STORIES)
    query, query_len = pad(QUERIES)

    def encode(gru, ids, lengths):
        packed = pack_padded_sequence(emb(ids), lengths, batch_first=True, enforce_sorted=False)
        out, h_n = gru(packed)
        states, _ = pad_packed_sequence(out, batch_first=True)
        final = torch.cat([h_n[0], h_n[1]], dim=1) if bidirectional else h_n[0]
        return states, final

    states, story_final = encode(story_gru, story, story_len)
    _, q = encode(query_gru, query, query_len)
    real = (torch.arange(states.shape[1])[None, :] < story_len[:, None]).double()  # [B, T]
    if reader == "softmax":
        scores = torch.einsum("btd,bd->bt", states, q) + (1 - real) * -1e9
        read = torch.einsum("bt,btd->bd", torch.softmax(scores, dim=1), states)
    elif reader in ("linear", "gated-linear"):
        g = real if reader == "linear" else real * torch.sigmoid(gate(states))[..., 0]
        c = torch.einsum("bt,bti,btj->bij", g, states, states)  # the fixed-size d x d representation
        read = torch.einsum("bij,bj->bi", c, q) / story_len[:, None].double()
    else:
        read = story_final
    hidden = torch.tanh(out_read(read) + out_query(q))
    mask = torch.full((len(STORIES), ENT), -1e9, dtype=torch.float64)
    for i, cands in enumerate(CANDIDATES):
        mask[i, cands] = 0
    logits = classifier(hidden) + mask
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(ANSWERS))
    loss.backward()
    named = {f"{m}.{n}": p for m, mod in modules.items() for n, p in mod.named_parameters()}
    return named, logits.detach(), loss.detach()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="Tests/CoreTests/Fixtures/cloze_readers.h5")
    args = ap.parse_args()
    with h5py.File(args.out, "w") as f:
        for k, v in dict(vocabulary=V, entities=ENT, embedding=EMB, hidden=HID, output=OUT).items():
            f.attrs[k] = v
        s, sl = pad(STORIES)
        qq, ql = pad(QUERIES)
        f["story_ids"], f["story_lengths"] = s.numpy(), sl.numpy()
        f["query_ids"], f["query_lengths"] = qq.numpy(), ql.numpy()
        f["answers"] = np.array(ANSWERS)
        cm = np.zeros((len(STORIES), ENT))
        for i, c in enumerate(CANDIDATES):
            cm[i, c] = 1
        f["candidate_mask"] = cm
        for seed, reader in enumerate(["softmax", "linear", "gated-linear", "none"]):
            for bi in (False, True):
                named, logits, loss = run(reader, bi, seed * 2 + int(bi) + 1)
                g = f.create_group(f"{reader}_{'bi' if bi else 'uni'}")
                for n, p in named.items():
                    g[f"params/{n}"] = p.detach().numpy()
                    g[f"grad/{n}"] = p.grad.numpy()
                g["logits"] = logits.numpy()
                g["loss"] = np.array([loss.item()])
    print("wrote", args.out)


if __name__ == "__main__":
    main()
