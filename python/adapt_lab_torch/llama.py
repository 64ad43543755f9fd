"""The Llama family (Llama 2/3.x, TinyLlama, SmolLM2, Qwen2 with q/k/v biases, Qwen3 with q/k
norms) in one file, nanoGPT-sized, with Hugging Face's module names so the weights load as a
table and LoRA targets, checkpoints and PEFT keys speak one vocabulary. The math follows
src/engine/model/llama.ts step for step (RMSNorm, rotate-half rotary positions with the same
frequency scalings, grouped-query attention with an additive -1e9 causal mask, SwiGLU)."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def inverse_frequencies(config, seq_len):
    """inv_freq as transformers' modeling_rope_utils (and rope.ts) computes it, in float64."""
    dim, base, s = config["headDim"], float(config["ropeTheta"]), config.get("ropeScaling")
    if s and s["type"] == "dynamic" and seq_len > s["originalMax"]:
        base *= ((s["factor"] * seq_len) / s["originalMax"] - (s["factor"] - 1)) ** (dim / (dim - 2))
    inv = [1.0 / math.pow(base, (2 * i) / dim) for i in range(dim // 2)]
    if not s or s["type"] == "dynamic":
        return inv
    if s["type"] == "linear":
        return [f / s["factor"] for f in inv]
    if s["type"] == "factors":
        return [f / s["factors"][i] for i, f in enumerate(inv)]
    if s["type"] == "llama3":
        low, high = s["originalMax"] / s["lowFreqFactor"], s["originalMax"] / s["highFreqFactor"]
        out = []
        for f in inv:
            wavelen = 2 * math.pi / f
            if wavelen < high:
                out.append(f)
            elif wavelen > low:
                out.append(f / s["factor"])
            else:
                smooth = (s["originalMax"] / wavelen - s["lowFreqFactor"]) / (s["highFreqFactor"] - s["lowFreqFactor"])
                out.append((1 - smooth) * (f / s["factor"]) + smooth * f)
        return out
    raise ValueError(f"rope scaling type {s['type']!r} is not supported")


def rope_tables(config, positions):
    """cos and sin [positions, head_dim] (float64 products rounded once to float32, as rope.ts)."""
    inv = np.array(inverse_frequencies(config, positions), dtype=np.float64)
    f = np.arange(positions, dtype=np.float64)[:, None] * inv[None, :]
    f = np.concatenate([f, f], axis=1)
    return torch.from_numpy(np.cos(f).astype(np.float32)), torch.from_numpy(np.sin(f).astype(np.float32))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = c["heads"], c["kvHeads"], c["headDim"]
        d, bias = c["hidden"], bool(c.get("attentionBias"))
        self.q_proj = nn.Linear(d, self.heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(d, self.kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(d, self.kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.heads * self.head_dim, d, bias=False)
        if c.get("qkNorm"):
            self.q_norm = RMSNorm(self.head_dim, c["normEps"])
            self.k_norm = RMSNorm(self.head_dim, c["normEps"])

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.heads, self.head_dim)
        k = self.k_proj(x).view(B, T, self.kv_heads, self.head_dim)
        if hasattr(self, "q_norm"):
            q, k = self.q_norm(q), self.k_norm(k)
        c, s = cos[:T].view(1, T, 1, -1), sin[:T].view(1, T, 1, -1)
        q = q * c + rotate_half(q) * s
        k = k * c + rotate_half(k) * s
        v = self.v_proj(x).view(B, T, self.kv_heads, self.head_dim)
        group = self.heads // self.kv_heads
        if group > 1:  # query head i reads kv head i // group
            k = k.repeat_interleave(group, dim=2)
            v = v.repeat_interleave(group, dim=2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim)) + mask[:T, :T]
        out = F.softmax(scores, dim=-1) @ v
        return self.o_proj(out.transpose(1, 2).reshape(B, T, self.heads * self.head_dim))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c["hidden"], c["intermediate"], bias=False)
        self.up_proj = nn.Linear(c["hidden"], c["intermediate"], bias=False)
        self.down_proj = nn.Linear(c["intermediate"], c["hidden"], bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden"], c["normEps"])
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden"], c["normEps"])
        self.mlp = MLP(c)

    def forward(self, h, cos, sin, mask, dropout):
        h = h + F.dropout(self.self_attn(self.input_layernorm(h), cos, sin, mask), dropout, self.training)
        return h + F.dropout(self.mlp(self.post_attention_layernorm(h)), dropout, self.training)


class Decoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocabSize"], c["hidden"])
        self.layers = nn.ModuleList([Block(c) for _ in range(c["layers"])])
        self.norm = RMSNorm(c["hidden"], c["normEps"])


class LlamaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        refused = [k for k in ("slidingWindow", "gemma") if c.get(k)]
        if c.get("family") != "llama" or refused or c.get("arch", "llama") not in ("llama", "mistral", "qwen2", "qwen3"):
            raise ValueError(f"the PyTorch trainer has the Llama, Mistral, Qwen2, Qwen3 and GPT-2 decoders; this model is "
                             f"{c.get('arch', c.get('family'))}{' with ' + ', '.join(refused) if refused else ''}: train it with `adapt-lab train`")
        self.config = c
        self.model = Decoder(c)
        self.tied = bool(c["tiedHead"])
        if not self.tied:
            self.lm_head = nn.Linear(c["hidden"], c["vocabSize"], bias=False)
        self.dropout = 0.0
        self._tables = (0, None, None, None)

    def tables(self, T, device):
        # Built for the positions in use (at least 256, twice what is asked), like rope.ts.
        if self._tables[0] < T or self._tables[1].device != device:
            n = min(self.config["maxPositions"], max(T, 256) * 2)
            if T > n:
                raise ValueError(f"position {T - 1} is past the model's {self.config['maxPositions']} positions")
            cos, sin = rope_tables(self.config, n)
            mask = torch.triu(torch.full((n, n), -1e9), diagonal=1)
            self._tables = (n, cos.to(device), sin.to(device), mask.to(device))
        return self._tables[1:]

    def forward(self, ids):
        """ids [B, T] → logits [B, T, V]."""
        cos, sin, mask = self.tables(ids.shape[1], ids.device)
        h = self.model.embed_tokens(ids)
        for block in self.model.layers:
            h = block(h, cos, sin, mask, self.dropout)
        h = self.model.norm(h)
        return h @ self.model.embed_tokens.weight.t() if self.tied else self.lm_head(h)

    @property
    def embed_tokens(self):
        return self.model.embed_tokens

