#!/usr/bin/env python3
"""PyTorch reference for `npm run bench -- --only scale`: LoRA steps on a Llama-shaped Hugging Face
folder (config.json + model.safetensors, F32/F16/BF16) in plain nn.Module code, f32 compute.

Same work as ours: the folder's weights (bf16 decoded to f32), LoRA rank/alpha on the named
projections (A Kaiming-uniform, B zero, as PEFT), AdamW on the LoRA weights only, batch 1 x T random
tokens, next-token cross-entropy. Prints one JSON line: load time, step times, tokens/s, peak RSS.
Run it as the bench does: Debian's python3-torch, OpenBLAS's OpenMP flavour, --threads 2,
OPENBLAS_CORETYPE unset, glibc told to keep freed memory (see bench/torch.ts).
"""
import argparse
import json
import math
import os
import resource
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    """name -> float32 torch tensor (F32, F16 and BF16; bf16 is the upper half of an f32)."""
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode='r', offset=8 + n)
    out = {}
    for name, e in header.items():
        if name == '__metadata__':
            continue
        b, end = e['data_offsets']
        raw = data[b:end]
        if e['dtype'] == 'BF16':
            arr = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif e['dtype'] == 'F16':
            arr = raw.view(np.float16).astype(np.float32)
        elif e['dtype'] == 'F32':
            arr = np.array(raw.view(np.float32))
        else:
            raise SystemExit(f'{path}: tensor {name} has dtype {e["dtype"]}, not F32/F16/BF16')
        out[name] = torch.from_numpy(arr.reshape(e['shape']))
    return out


class LoraLinear(nn.Module):
    """A frozen nn.Linear weight plus (alpha/r)·B(A(x)) with A, B trainable (PEFT's init)."""

    def __init__(self, weight, rank, alpha):
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)
        out_f, in_f = weight.shape
        self.rank = rank
        self.A = None
        if rank:
            self.A = nn.Parameter(torch.empty(rank, in_f))
            nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
            self.B = nn.Parameter(torch.zeros(out_f, rank))
            self.scaling = alpha / rank

    def forward(self, x):
        y = F.linear(x, self.weight)
        if self.A is not None:
            y = y + F.linear(F.linear(x, self.A), self.B) * self.scaling
        return y


class RMSNorm(nn.Module):
    def __init__(self, weight, eps):
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(T, hd, theta):
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    f = torch.outer(torch.arange(T, dtype=torch.float32), inv)
    emb = torch.cat([f, f], dim=-1)
    return emb.cos(), emb.sin()


def rotate(x, cos, sin):
    h = x.shape[-1] // 2
    rot = torch.cat([-x[..., h:], x[..., :h]], dim=-1)
    return x * cos + rot * sin


class Block(nn.Module):
    def __init__(self, w, i, c, rank, alpha, targets):
        super().__init__()
        p = f'model.layers.{i}.'
        lin = lambda n: LoraLinear(w[p + n + '.weight'], rank if n.split('.')[-1] in targets else 0, alpha)
        self.ln1 = RMSNorm(w[p + 'input_layernorm.weight'], c['rms_norm_eps'])
        self.q, self.k, self.v, self.o = (lin('self_attn.' + n) for n in ('q_proj', 'k_proj', 'v_proj', 'o_proj'))
        self.ln2 = RMSNorm(w[p + 'post_attention_layernorm.weight'], c['rms_norm_eps'])
        self.gate, self.up, self.down = (lin('mlp.' + n) for n in ('gate_proj', 'up_proj', 'down_proj'))
        self.H = c['num_attention_heads']
        self.KVH = c['num_key_value_heads']
        self.hd = c['hidden_size'] // self.H

    def forward(self, h, cos, sin):
        B, T, D = h.shape
        x = self.ln1(h)
        q = self.q(x).view(B, T, self.H, self.hd).transpose(1, 2)
        k = self.k(x).view(B, T, self.KVH, self.hd).transpose(1, 2)
        v = self.v(x).view(B, T, self.KVH, self.hd).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        g = self.H // self.KVH
        k = k.repeat_interleave(g, dim=1)
        v = v.repeat_interleave(g, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float('-inf'))
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        h = h + self.o(a)
        y = self.ln2(h)
        return h + self.down(F.silu(self.gate(y)) * self.up(y))


class Llama(nn.Module):
    def __init__(self, w, c, rank, alpha, targets):
        super().__init__()
        self.embed = nn.Parameter(w['model.embed_tokens.weight'], requires_grad=False)
        self.blocks = nn.ModuleList(Block(w, i, c, rank, alpha, targets) for i in range(c['num_hidden_layers']))
        self.norm = RMSNorm(w['model.norm.weight'], c['rms_norm_eps'])
        self.head = self.embed if c.get('tie_word_embeddings') else nn.Parameter(w['lm_head.weight'], requires_grad=False)
        self.theta = c.get('rope_theta', 10000.0)
        self.hd = c['hidden_size'] // c['num_attention_heads']

    def forward(self, ids):
        cos, sin = rope_tables(ids.shape[1], self.hd, self.theta)
        h = F.embedding(ids, self.embed)
        for b in self.blocks:
            h = b(h, cos, sin)
        return F.linear(self.norm(h), self.head)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('folder')
    ap.add_argument('--tokens', type=int, default=256)
    ap.add_argument('--steps', type=int, default=2)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--rank', type=int, default=8)
    ap.add_argument('--alpha', type=float, default=16)
    ap.add_argument('--targets', default='q_proj,v_proj')
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    c = json.load(open(os.path.join(a.folder, 'config.json')))
    w = read_safetensors(os.path.join(a.folder, 'model.safetensors'))
    model = Llama(w, c, a.rank, a.alpha, set(a.targets.split(',')))
    del w
    load_ms = (time.perf_counter() - t0) * 1000
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    V = c['vocab_size']
    gen = torch.Generator().manual_seed(3)
    ids = torch.randint(0, V, (1, a.tokens + 1), generator=gen)
    times, losses = [], []
    for i in range(a.warmup + a.steps):
        t = time.perf_counter()
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.view(-1, V), ids[0, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= a.warmup:
            times.append((time.perf_counter() - t) * 1000)
        losses.append(float(loss))
    med = sorted(times)[len(times) // 2]
    print(json.dumps({
        'name': 'torch-scale', 'torch': torch.__version__, 'threads': a.threads, 'tokens': a.tokens,
        'load_ms': round(load_ms, 1), 'step_ms': [round(x, 1) for x in times], 'step_ms_median': round(med, 1),
        'tokens_per_second': round(a.tokens / (med / 1000), 2), 'loss_first': round(losses[0], 4),
        'trainable': sum(p.numel() for p in params), 'params': sum(p.numel() for p in model.parameters()),
        'peak_rss_mib': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == '__main__':
    main()
