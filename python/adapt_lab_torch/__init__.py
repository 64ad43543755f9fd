"""Adapt Lab's PyTorch trainer: the same run config as the TypeScript engine, on torchrun.

Only torch and numpy are needed. The TypeScript side (`adapt-lab launch`) writes a launch
folder: launch.json (model, adapter, schedule, optimizer, seed), token-id shards with loss
masks, the batch plan and the initial adapter weights. This package reads that folder, trains
with torch.distributed (DDP; FSDP where it is available and the model is large), and writes the
same run folder as the TypeScript trainer: metrics.jsonl events, checkpoints, a PEFT adapter.
"""
