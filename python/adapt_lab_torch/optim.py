"""AdamW, the learning-rate schedule and gradient clipping exactly as the TypeScript engine has
them (src/engine/train/optimizer.ts, schedule.ts), operation for operation, so both trainers
take the same steps: decoupled weight decay added to the update (matrices and LoRA factors),
optional L2-SP pull toward pretrained values, global-norm clipping, per-parameter LR scales."""
import math

import torch


def learning_rate(step, total, base, warmup, kind):
    """`step` counts from 1."""
    if warmup > 0 and step <= warmup:
        return base * step / warmup
    if kind == "constant":
        return base
    span = max(1, total - warmup)
    progress = min(1.0, max(0.0, (step - warmup) / span))
    if kind == "linear":
        return base * (1 - progress)
    return base * 0.5 * (1 + math.cos(math.pi * progress))


class AdamW:
    def __init__(self, params, beta1=0.9, beta2=0.999, eps=1e-8):
        """params: [(name, tensor, {decay, lrScale, anchor})] in the engine's order."""
        self.params = params
        self.b1, self.b2, self.eps = beta1, beta2, eps
        self.m = {n: torch.zeros_like(p) for n, p, _ in params}
        self.v = {n: torch.zeros_like(p) for n, p, _ in params}
        self.t = 0

    @torch.no_grad()
    def step(self, lr, weight_decay, l2sp, grad_clip):
        """One update from each parameter's .grad; returns the gradient norm before clipping."""
        self.t += 1
        grads = {}
        for n, p, o in self.params:
            if p.grad is None:
                raise ValueError(f"no gradient for {n}")
            g = p.grad
            if l2sp > 0 and o.get("anchor") is not None:
                g = g + (p - o["anchor"]) * l2sp
            grads[n] = g
        norm = math.sqrt(float(torch.stack([g.pow(2).sum() for g in grads.values()]).sum()))
        scale = grad_clip / (norm + 1e-6) if grad_clip > 0 and norm > grad_clip else 1.0
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for n, p, o in self.params:
            g = grads[n] if scale == 1.0 else grads[n] * scale
            m, v = self.m[n], self.v[n]
            m.copy_(m * self.b1 + g * (1 - self.b1))
            v.copy_(v * self.b2 + g.pow(2) * (1 - self.b2))
            update = (m / c1) / ((v / c2).sqrt() + self.eps)
            if o["decay"] and weight_decay > 0:
                update = update + p * weight_decay
            p.sub_(update * (lr * o["lrScale"]))
        return norm
