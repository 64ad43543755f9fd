"""Token-id shards and the batch plan from the launch folder. A shard is three files written by
src/engine/launch/shards.ts: <name>.ids (little-endian int32 token ids, examples one after the
other), <name>.mask (uint8, 1 where the token is a label) and <name>.json ({"lengths": [...]}).
Batches are packed exactly as packBatch in src/engine/train/data.ts: padded to the longest row
with the pad id, labels the next token, weights the next token's mask."""
import json
import os

import numpy as np
import torch


class Shard:
    def __init__(self, folder, name):
        base = os.path.join(folder, name)
        with open(base + ".json", encoding="utf-8") as f:
            lengths = json.load(f)["lengths"]
        self.ids = np.fromfile(base + ".ids", dtype="<i4")
        self.mask = np.fromfile(base + ".mask", dtype=np.uint8)
        if len(self.ids) != sum(lengths) or len(self.mask) != len(self.ids):
            raise ValueError(f"{base}.ids / .mask hold {len(self.ids)} / {len(self.mask)} tokens, "
                             f"{name}.json lists {sum(lengths)}: write the launch folder again")
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.lengths = lengths

    def __len__(self):
        return len(self.lengths)

    def example(self, i):
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.ids[a:b], self.mask[a:b]

    def labels_in(self, rows):
        """Label tokens of these examples (mask[0] never counts: nothing predicts it)."""
        return int(sum(int(self.example(i)[1][1:].sum()) for i in rows))

    def tokens_in(self, rows):
        return int(sum(self.lengths[i] for i in rows))


def pack(shard, rows, pad_id, device):
    """(ids [B, T] int64, labels [B*T] int64, weights [B*T] float32) for these examples."""
    T = max(shard.lengths[i] for i in rows)
    ids = np.full((len(rows), T), pad_id, dtype=np.int64)
    labels = np.full((len(rows), T), pad_id, dtype=np.int64)
    weights = np.zeros((len(rows), T), dtype=np.float32)
    for b, i in enumerate(rows):
        x, m = shard.example(i)
        n = len(x)
        ids[b, :n] = x
        labels[b, :n - 1] = x[1:]
        weights[b, :n - 1] = m[1:]
    return (torch.from_numpy(ids).to(device), torch.from_numpy(labels.reshape(-1)).to(device),
            torch.from_numpy(weights.reshape(-1)).to(device))


def share(rows, rank, world):
    """This rank's contiguous part of a micro-batch's rows (sizes differ by at most one), as
    shareOf in src/engine/train/parallel.ts splits a step across threads."""
    n = len(rows)
    return rows[(n * rank) // world:(n * (rank + 1)) // world]
