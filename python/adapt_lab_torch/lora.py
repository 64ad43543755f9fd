"""LoRA as PEFT defines it (peft/tuners/lora/layer.py): a frozen linear layer plus
(alpha / r) · B(A(dropout(x))), A [r, in] and B [out, r] stored as `lora_A` / `lora_B`
linear layers, so a module's state-dict keys are PEFT's (`<path>.lora_A.weight`). The scaling
is stored once and used by the forward pass and by delta_weight (merging, exports)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class LoraLinear(nn.Module):
    def __init__(self, base, rank, alpha, dropout):
        super().__init__()
        self.weight = base.weight  # frozen base weight keeps its Hugging Face name
        self.bias = base.bias
        # GPT-2's Conv1D stores its weight [in, out] (PEFT's fan_in_fan_out); nn.Linear [out, in].
        self.fan_in_fan_out = not isinstance(base, nn.Linear)
        self.lora_A = nn.Linear(base.in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, base.out_features, bias=False)
        nn.init.zeros_(self.lora_B.weight)
        self.rank, self.alpha, self.scaling, self.dropout = rank, alpha, alpha / rank, dropout

    def forward(self, x):
        y = x @ self.weight + self.bias if self.fan_in_fan_out else F.linear(x, self.weight, self.bias)
        xi = F.dropout(x, self.dropout, self.training) if self.dropout > 0 else x
        return y + self.lora_B(self.lora_A(xi)) * self.scaling

    def delta_weight(self):
        """PEFT's get_delta_weight: (alpha / r) · B · A, [out, in] (transposed for fan_in_fan_out)."""
        d = (self.lora_B.weight @ self.lora_A.weight) * self.scaling
        return d.t() if self.fan_in_fan_out else d


def add_lora(model, path, rank, alpha, dropout):
    """Replaces the linear module at `path` (a Hugging Face module path) by a LoraLinear."""
    parent_path, _, leaf = path.rpartition(".")
    parent = model.get_submodule(parent_path)
    base = getattr(parent, leaf)
    if not hasattr(base, "in_features") or not hasattr(base, "weight"):
        raise ValueError(f"\"{path}\" is not a linear module")
    layer = LoraLinear(base, rank, alpha, dropout)
    setattr(parent, leaf, layer)
    return layer
