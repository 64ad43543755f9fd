"""GPT-2 in one file, as src/engine/model/gpt2.ts computes it: LayerNorm, learned positions,
tanh GELU ("gelu_new"), the fused c_attn, Hugging Face's Conv1D layout ([in, out] weights, so
module names and shapes are the checkpoints' own) and a tied head."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Conv1D(nn.Module):
    """Hugging Face's Conv1D: a linear layer whose weight is stored [in, out]."""

    def __init__(self, inp, out):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(inp, out))
        self.bias = nn.Parameter(torch.zeros(out))
        self.in_features, self.out_features = inp, out

    def forward(self, x):
        return x @ self.weight + self.bias


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden"]
        self.heads, self.head_dim = c["heads"], c["headDim"]
        self.c_attn = Conv1D(d, 3 * d)
        self.c_proj = Conv1D(d, d)

    def forward(self, x, mask):
        B, T, d = x.shape
        q, k, v = (t.view(B, T, self.heads, self.head_dim).transpose(1, 2) for t in self.c_attn(x).split(d, dim=-1))
        scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim)) + mask[:T, :T]
        out = F.softmax(scores, dim=-1) @ v
        return self.c_proj(out.transpose(1, 2).reshape(B, T, d))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = Conv1D(c["hidden"], 4 * c["hidden"])
        self.c_proj = Conv1D(4 * c["hidden"], c["hidden"])

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c["hidden"], eps=c["normEps"])
        self.attn = Attention(c)
        self.ln_2 = nn.LayerNorm(c["hidden"], eps=c["normEps"])
        self.mlp = MLP(c)

    def forward(self, h, mask, dropout):
        h = h + F.dropout(self.attn(self.ln_1(h), mask), dropout, self.training)
        return h + F.dropout(self.mlp(self.ln_2(h)), dropout, self.training)


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocabSize"], c["hidden"])
        self.wpe = nn.Embedding(c["maxPositions"], c["hidden"])
        self.h = nn.ModuleList([Block(c) for _ in range(c["layers"])])
        self.ln_f = nn.LayerNorm(c["hidden"], eps=c["normEps"])


class GPT2LMHeadModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.transformer = Transformer(c)
        self.tied = bool(c["tiedHead"])
        if not self.tied:
            self.lm_head = nn.Linear(c["hidden"], c["vocabSize"], bias=False)
        self.dropout = 0.0
        self._mask = None

    @property
    def embed_tokens(self):
        return self.transformer.wte

    def forward(self, ids):
        T = ids.shape[1]
        if T > self.config["maxPositions"]:
            raise ValueError(f"sequence of {T} tokens exceeds the model's {self.config['maxPositions']} positions")
        if self._mask is None or self._mask.shape[0] < T or self._mask.device != ids.device:
            n = self.config["maxPositions"]
            self._mask = torch.triu(torch.full((n, n), -1e9), diagonal=1).to(ids.device)
        h = self.transformer.wte(ids) + self.transformer.wpe.weight[:T]
        for block in self.transformer.h:
            h = block(h, self._mask, self.dropout)
        h = self.transformer.ln_f(h)
        return h @ self.transformer.wte.weight.t() if self.tied else self.lm_head(h)
