"""The model of a launch: its family's module (llama.py, gpt2.py) from the config the TypeScript
side resolved, with the base weights copied in by Hugging Face name."""
import numpy as np
import torch

from .gpt2 import GPT2LMHeadModel
from .llama import LlamaForCausalLM


def build(config):
    return GPT2LMHeadModel(config) if config.get("family") == "gpt2" else LlamaForCausalLM(config)


def load_hf_weights(model, weights, source):
    """Copies {Hugging Face name: array} into the model; every parameter must be there."""
    own = dict(model.named_parameters())
    missing = [n for n in own if n not in weights]
    if missing:
        raise ValueError(f"{source}: no tensor \"{missing[0]}\"" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    with torch.no_grad():
        for name, p in own.items():
            w = torch.from_numpy(np.ascontiguousarray(weights[name]))
            if tuple(w.shape) != tuple(p.shape):
                raise ValueError(f"{source}: tensor \"{name}\" is {list(w.shape)}, expected {list(p.shape)}")
            p.copy_(w)
