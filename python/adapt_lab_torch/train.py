"""Entry point: `torchrun --nproc_per_node N -m adapt_lab_torch.train LAUNCH_FOLDER [--resume]`.

Reads the launch folder written by `adapt-lab launch`, trains the run config's adaptation with
torch.distributed, and writes the run folder (see runstore.py). Every rank holds the whole
model; each step's micro-batches are split by rows across ranks (data parallel).

The loss of a step is defined once, for any number of ranks: the sum over every label token of
the step (all micro-batches, all ranks) of its cross-entropy, divided by the step's label count
(known to every rank from the batch plan). Each rank backpropagates its own part of that sum,
times the world size because DistributedDataParallel averages gradients across ranks: the
all-reduced gradient is then the gradient of the step's loss, the same as one process over the
same global batch (up to the order of float additions).
"""
import argparse
import json
import os
import platform
import resource
import signal
import sys
import time

import numpy as np
import torch
import torch.distributed as dist

from . import gguf, runstore, safetensors
from .data import Shard, pack, share
from .models import build, load_hf_weights
from .lora import add_lora
from .optim import AdamW, learning_rate

DEFAULT_CHECKPOINT_SECONDS = 60


class Dist:
    """Rank, world and device; torch.distributed is started only when there is more than one rank."""

    def __init__(self):
        self.rank = int(os.environ.get("RANK", "0"))
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.cuda = torch.cuda.is_available() and os.environ.get("ADAPT_LAB_TORCH_DEVICE", "") != "cpu"
        self.device = torch.device(f"cuda:{self.local_rank}") if self.cuda else torch.device("cpu")
        if self.cuda:
            torch.cuda.set_device(self.device)
        else:
            # The cores of this node are shared between its ranks.
            local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
            if "OMP_NUM_THREADS" not in os.environ:
                torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
        self.backend = "nccl" if self.cuda else "gloo"
        if self.world > 1:
            dist.init_process_group(self.backend)

    def sum(self, values):
        """Element-wise sum of a list of floats over all ranks (float64)."""
        if self.world == 1:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def close(self):
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def load_base(launch, folder):
    m = launch["model"]
    path = m["path"] if os.path.isabs(m["path"]) else os.path.join(folder, m["path"])
    if m["format"] == "gguf":
        return gguf.load_weights(path, m["config"]), path
    index = os.path.join(path, "model.safetensors.index.json")
    weights = {}
    if os.path.exists(index):
        with open(index, encoding="utf-8") as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = [os.path.basename(path)] if path.endswith(".safetensors") else ["model.safetensors"]
        path = os.path.dirname(path) if path.endswith(".safetensors") else path
    for name in files:
        weights.update(safetensors.read(os.path.join(path, name))[0])
    if m["config"]["tiedHead"]:
        weights.pop("lm_head.weight", None)
    return weights, path


def build_model(launch, folder, device):
    """The base model with LoRA adapters and unfrozen parameters, and the trainable list in the
    engine's order: (checkpoint name, tensor, transposed in our checkpoints?, options)."""
    model = build(launch["model"]["config"])
    weights, path = load_base(launch, folder)
    load_hf_weights(model, weights, path)
    for p in model.parameters():
        p.requires_grad_(False)
    lora = launch.get("lora")
    if lora:
        initial, _ = safetensors.read(os.path.join(folder, launch["initialAdapter"]))
        for mod in lora["modules"]:
            layer = add_lora(model, mod, lora["rank"], lora["alpha"], lora["dropout"])
            with torch.no_grad():
                layer.lora_A.weight.copy_(torch.from_numpy(initial[f"base_model.model.{mod}.lora_A.weight"]))
                layer.lora_B.weight.copy_(torch.from_numpy(initial[f"base_model.model.{mod}.lora_B.weight"]))
    model.to(device)
    named = dict(model.named_parameters())
    trainable = []
    for p in launch["params"]:
        kind, _, rest = p["name"].partition(":")
        if kind == "lora":
            mod, _, which = rest.rpartition(".")
            tensor = named[f"{mod}.lora_{which}.weight"]
            transposed = True  # ours: A [in, r], B [r, out]; PEFT's and torch's: their transposes
        else:
            tensor = named[rest]
            transposed = p["layout"] == "linear"
        tensor.requires_grad_(True)
        anchor = tensor.detach().clone() if kind == "param" and launch["training"]["l2sp"] > 0 else None
        trainable.append((p["name"], tensor, transposed, {"decay": p["decay"], "lrScale": p["lrScale"], "anchor": anchor}))
    model.dropout = launch["training"]["dropout"]
    return model, trainable


def to_ours(t, transposed):
    a = t.detach().float().cpu().numpy()
    return np.ascontiguousarray(a.T if transposed else a)


def from_ours(a, transposed):
    return torch.from_numpy(np.ascontiguousarray(a.T if transposed else a))


def rss_mib():
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cross_entropy_sum(logits, labels, weights):
    """Σ weight · (logsumexp − picked logit) over rows, as crossEntropy in ops.ts."""
    x = logits.reshape(-1, logits.shape[-1])
    lse = torch.logsumexp(x, dim=1)
    picked = x.gather(1, labels.view(-1, 1)).view(-1)
    return ((lse - picked) * weights).sum()


class Trainer:
    def __init__(self, folder, resume, managed):
        self.folder = os.path.abspath(folder)
        with open(os.path.join(self.folder, "launch.json"), encoding="utf-8") as f:
            self.launch = json.load(f)
        self.d = Dist()
        self.run_dir = os.path.normpath(os.path.join(self.folder, self.launch["runDir"]))
        self.t = self.launch["training"]
        self.resume = resume
        self.events = runstore.Events(self.run_dir) if self.d.rank == 0 else None
        self.record = None
        if self.d.rank == 0 and not managed:
            # Run by hand (a cluster, a scheduler): this process keeps run.json. The recorded
            # trainer is torchrun's agent (our parent), which forwards a stop to every rank.
            agent = os.getppid() if "TORCHELASTIC_RUN_ID" in os.environ else os.getpid()
            self.record = runstore.StandaloneRecord(self.run_dir, self.launch["record"], {
                "pid": agent, "token": os.urandom(12).hex(), "host": platform.node(), "startTime": _start_time(agent)})
        self.stop_requested = False

    # -------------------------------------------------------------------- events
    def emit(self, e):
        if self.events is None:
            return
        e = self.events.emit(e)
        if self.record:
            self.record.fold(e)

    def log(self, message, level="info"):
        self.emit({"type": "log", "level": level, "message": message})

    # -------------------------------------------------------------------- the run
    def run(self):
        try:
            return self._run()
        except Exception as e:  # recorded, then raised: torchrun reports the rank's failure too
            msg = str(e).split("\n")[0] or type(e).__name__
            self.emit({"type": "failed", "step": getattr(self, "step", 0), "reason": msg,
                       **({"lastCheckpoint": self.last_checkpoint} if getattr(self, "last_checkpoint", None) else {})})
            raise
        finally:
            self.d.close()

    def _run(self):
        L, t, d = self.launch, self.t, self.d
        torch.manual_seed(L["seed"])
        self.model, self.trainable = build_model(L, self.folder, d.device)
        net = self.model
        if d.world > 1:
            net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=[d.local_rank] if d.cuda else None)
        self.net = net
        self.opt = AdamW([(n, p, o) for n, p, _, o in self.trainable])
        self.train_set = Shard(self.folder, L["data"]["train"])
        self.val_set = Shard(self.folder, L["data"]["validation"]) if L["data"].get("validation") else None
        with open(os.path.join(self.folder, L["plan"]), encoding="utf-8") as f:
            self.plan = json.load(f)["steps"]
        total = L["totalSteps"]
        if len(self.plan) < total:
            raise ValueError(f"{L['plan']} plans {len(self.plan)} steps, launch.json says {total}: write the launch folder again")
        self.step, self.best, self.bad_evals, self.last_checkpoint = 0, float("inf"), 0, None
        # The Monitor's tokens and training-time axes continue across a resume (as meter.ts).
        self.tokens_seen, self.elapsed_base = 0, 0.0
        resumed_from = self._resume() if self.resume else None
        self.last_checkpoint_at = time.monotonic()
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

        started = dict(L["started"])
        # runDir is where this run folder is now (a launch folder may have been copied elsewhere).
        started.update(runDir=self.run_dir, backend=self._backend_info(), **({"resumedFrom": resumed_from} if resumed_from is not None else {}))
        self.started_at, self.cpu_at = time.monotonic(), (time.process_time(), time.monotonic())
        self.emit({"type": "started", **started})
        weights = sum(p.numel() * p.element_size() for p in self.model.parameters()) / 2 ** 20
        self.log(f"PyTorch {torch.__version__}: {d.world} process{'es' if d.world > 1 else ''} ({d.backend}, {d.device.type}); "
                 + (f"DDP: each rank holds the whole model ({weights:.1f} MiB of weights) and a share of every micro-batch's rows (FSDP is not in this trainer)"
                    if d.world > 1 else f"one process ({weights:.1f} MiB of weights)"))

        if self.step == 0 and t["evalEvery"] > 0:
            self.evaluate()
        stop_early = False
        while self.step < total:
            if self._stop_agreed():
                break
            self.train_step(total)
            if (self.step % t["evalEvery"] == 0 or self.step == total) if t["evalEvery"] > 0 else self.step == total:
                stop_early = self.evaluate()
            if self._checkpoint_due() and self.last_checkpoint_step != self.step:
                self.checkpoint(False)
            if stop_early:
                break
        if self.last_checkpoint_step != self.step:
            self.checkpoint(False)
        if d.rank == 0:
            self.write_adapter()
        best = self.best if self.best != float("inf") else None
        if stop_early:
            self.emit({"type": "finished", "step": self.step, "reason": "early-stopping", **({"bestValLoss": best} if best is not None else {})})
        elif self.step < total:
            self.emit({"type": "stopped", "step": self.step})
        else:
            self.emit({"type": "finished", "step": self.step, "reason": "max-steps" if t.get("maxSteps") else "epochs",
                       **({"bestValLoss": best} if best is not None else {})})
        return 0

    def _backend_info(self):
        d = self.d
        where = torch.cuda.get_device_name(d.device) if d.cuda else f"cpu, {torch.get_num_threads()} thread{'s' if torch.get_num_threads() > 1 else ''} each"
        return {"name": "pytorch", "label": f"PyTorch {torch.__version__} {'DDP' if d.world > 1 else 'single process'} × {d.world} ({d.backend}; {where})",
                "skipped": [], "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()}}

    # -------------------------------------------------------------------- one step
    def train_step(self, total):
        d, t, L = self.d, self.t, self.launch
        t0 = time.perf_counter()
        micro = self.plan[self.step]
        label_total = max(1, sum(self.train_set.labels_in(rows) for rows in micro))
        tokens = sum(self.train_set.tokens_in(rows) for rows in micro)
        torch.manual_seed(L["seed"] * 100003 + (self.step + 1) * 101 + d.rank)  # dropout, embedding noise
        self.net.train()
        for _, p, _, _ in self.trainable:
            p.grad = None
        local = 0.0
        for i, rows in enumerate(micro):
            mine = share(rows, d.rank, d.world)
            # A rank with no rows in this micro-batch still runs one (weightless) row, so every
            # rank makes the same backward calls, which DDP's gradient hooks expect.
            ids, labels, weights = pack(self.train_set, mine or rows[:1], L["padId"], d.device)
            if not mine:
                weights = torch.zeros_like(weights)
            last = i == len(micro) - 1
            ctx = self.net.no_sync() if d.world > 1 and not last else _nullcontext()
            with ctx:
                h = self._embedded(ids)
                loss = cross_entropy_sum(h, labels, weights) / label_total
                (loss * d.world).backward()
            local += float(loss)
        step_loss = d.sum([local])[0]
        if self.step == 0 and d.rank == 0 and os.environ.get("ADAPT_LAB_TORCH_GRADS"):
            # A check for the agreement tests: the first step's all-reduced gradients, in our names and layout.
            safetensors.write(os.environ["ADAPT_LAB_TORCH_GRADS"], {n: to_ours(p.grad, tr) for n, p, tr, _ in self.trainable})
        if not np.isfinite(step_loss):  # before the update: the last checkpoint stays good
            raise ValueError(f"loss became {step_loss} at step {self.step + 1}")
        lr = learning_rate(self.step + 1, total, t["learningRate"], t["warmupSteps"], t["schedule"])
        norm = self.opt.step(lr, t["weightDecay"], t["l2sp"], t["gradClip"])
        self.step += 1
        seconds = time.perf_counter() - t0
        self.tokens_seen += tokens
        cpu, wall = time.process_time(), time.monotonic()
        cpu_percent = 100 * (cpu - self.cpu_at[0]) / max(1e-9, wall - self.cpu_at[1])  # rank 0's process
        self.cpu_at = (cpu, wall)
        self.emit({"type": "step", "step": self.step, "epoch": self.step / L["stepsPerEpoch"], "loss": step_loss, "lr": lr,
                   "gradNorm": norm, "tokensPerSecond": tokens / seconds, "tokensSeen": self.tokens_seen,
                   "elapsedSeconds": self.elapsed_base + (wall - self.started_at), "stepSeconds": seconds, "cpuPercent": cpu_percent,
                   "memory": {"rssMiB": rss_mib(), "heapMiB": 0, "numTensors": 0,
                              "tensorMiB": (torch.cuda.memory_allocated(d.device) / 2 ** 20) if d.cuda else 0}})

    def _embedded(self, ids):
        """Logits, with NEFTune noise on the embeddings while training when asked."""
        noise = self.t["embeddingNoise"]
        if noise <= 0:
            return self.net(ids)
        emb = self.model.embed_tokens
        scale = noise / (ids.shape[1] * self.model.config["hidden"]) ** 0.5
        handle = emb.register_forward_hook(lambda _m, _i, out: out + torch.empty_like(out).uniform_(-scale, scale))
        try:
            return self.net(ids)
        finally:
            handle.remove()

    # -------------------------------------------------------------------- validation
    @torch.no_grad()
    def evaluate(self):
        """Mean cross-entropy and accuracy over the validation examples (their rows split across
        ranks, the sums added up); a best loss is checkpointed; True when early stopping says stop."""
        if self.val_set is None or len(self.val_set) == 0:
            return False
        d, t = self.d, self.t
        self.model.eval()
        n = len(self.val_set)
        bs = t["batchSize"]
        s = c = k = 0.0
        for start in range(0, n, bs):
            rows = share(list(range(start, min(n, start + bs))), d.rank, d.world)
            if not rows:
                continue
            ids, labels, weights = pack(self.val_set, rows, self.launch["padId"], d.device)
            logits = self.model(ids).reshape(-1, self.model.config["vocabSize"])
            s += float(cross_entropy_sum(logits, labels, weights))
            c += float(((logits.argmax(1) == labels).float() * weights).sum())
            k += float(weights.sum())
        s, c, k = d.sum([s, c, k])
        val = s / k if k > 0 else float("nan")
        min_delta = (t.get("earlyStopping") or {}).get("minDelta", 0) or 0
        improved = self.step > 0 and val < self.best - min_delta
        if improved:
            self.best, self.bad_evals = val, 0
        elif self.step > 0:
            self.bad_evals += 1
        self.emit({"type": "eval", "step": self.step, "valLoss": val, "perplexity": float(np.exp(val)),
                   "tokenAccuracy": c / k if k > 0 else float("nan"), "best": improved})
        if improved:
            self.checkpoint(True)
        es = t.get("earlyStopping")
        return bool(es) and self.bad_evals >= es["patience"]

    # -------------------------------------------------------------------- checkpoints
    @property
    def last_checkpoint_step(self):
        return getattr(self, "_ck_step", None)

    def _checkpoint_due(self):
        t = self.t
        if t["checkpointEvery"] > 0 and self.step % t["checkpointEvery"] == 0:
            return True
        bound = t.get("checkpointSeconds", DEFAULT_CHECKPOINT_SECONDS)
        due = bound > 0 and time.monotonic() - self.last_checkpoint_at >= bound
        # Every rank must agree (only rank 0 writes, but all must have the same step count).
        return self.d.sum([1.0 if due else 0.0])[0] > 0 if self.d.world > 1 else due

    def checkpoint(self, best):
        self._ck_step = self.step
        self.last_checkpoint_at = time.monotonic()
        if self.d.rank != 0:
            return
        tensors = {n: to_ours(p, tr) for n, p, tr, _ in self.trainable}
        opt = {}
        for n, _, tr, _ in self.trainable:
            opt[f"m:{n}"] = to_ours(self.opt.m[n], tr)
            opt[f"v:{n}"] = to_ours(self.opt.v[n], tr)
        meta = {"step": self.step, "optimizerT": self.opt.t, "bestValLoss": self.best if self.best != float("inf") else None,
                "badEvals": self.bad_evals, "seed": self.launch["seed"], "trainer": "pytorch",
                "tokensSeen": self.tokens_seen, "elapsedSeconds": self.elapsed_base + (time.monotonic() - getattr(self, "started_at", time.monotonic()))}
        self.last_checkpoint = runstore.save_checkpoint(self.run_dir, self.step, tensors, opt, meta, best=best)
        self.emit({"type": "checkpoint", "step": self.step, "path": self.last_checkpoint, "best": best})

    def _resume(self):
        found, skipped = runstore.latest_good_checkpoint(self.run_dir)
        for s in skipped:
            self.log(f"checkpoint skipped: {s}", "warn")
        if found is None:
            raise ValueError(f"{os.path.join(self.run_dir, 'checkpoints')}: no checkpoint to resume from")
        path, state, tensors, opt = found
        with torch.no_grad():
            for n, p, tr, _ in self.trainable:
                if n not in tensors:
                    raise ValueError(f"{path}: checkpoint has no tensor \"{n}\" (was it made with another adapt config?)")
                p.copy_(from_ours(tensors[n], tr))
                self.opt.m[n].copy_(from_ours(opt[f"m:{n}"], tr))
                self.opt.v[n].copy_(from_ours(opt[f"v:{n}"], tr))
        meta = state["meta"]
        self.opt.t = int(meta.get("optimizerT", state["step"]))
        self.step = self._ck_step = int(state["step"])
        self.best = meta["bestValLoss"] if isinstance(meta.get("bestValLoss"), (int, float)) else float("inf")
        self.bad_evals = int(meta.get("badEvals", 0))
        self.tokens_seen = int(meta.get("tokensSeen", 0) or 0)
        self.elapsed_base = float(meta.get("elapsedSeconds", 0) or 0)
        self.last_checkpoint = path
        return self.step

    def write_adapter(self):
        """The PEFT adapter, as our export writes it: LoRA factors, and modules holding trained base
        parameters saved whole (modules_to_save), in Hugging Face's layout."""
        out = {}
        for mod in (self.launch.get("lora") or {}).get("modules", []):
            layer = self.model.get_submodule(mod)
            out[f"base_model.model.{mod}.lora_A.weight"] = layer.lora_A.weight.detach().float().cpu().numpy()
            out[f"base_model.model.{mod}.lora_B.weight"] = layer.lora_B.weight.detach().float().cpu().numpy()
        for mod in self.launch["adapterConfig"].get("modules_to_save") or []:
            for name, p in self.model.get_submodule(mod).named_parameters(recurse=False):
                out[f"base_model.model.{mod}.{name}"] = p.detach().float().cpu().numpy()
        runstore.write_adapter(self.run_dir, out, self.launch["adapterConfig"])

    # -------------------------------------------------------------------- stopping
    def _on_signal(self, *_):
        self.stop_requested = True

    def _stop_agreed(self):
        if self.d.world == 1:
            return self.stop_requested
        return self.d.sum([1.0 if self.stop_requested else 0.0])[0] > 0


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False


def _start_time(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            stat = f.read()
        return stat[stat.rindex(")") + 2:].split(" ")[19]
    except (OSError, ValueError, IndexError):
        return None


def main(argv=None):
    ap = argparse.ArgumentParser(prog="adapt_lab_torch.train", description=__doc__.split("\n")[0])
    ap.add_argument("folder", nargs="?", default=".", help="the launch folder (holding launch.json)")
    ap.add_argument("--resume", action="store_true", help="continue from the run's newest good checkpoint")
    ap.add_argument("--managed", action="store_true", help="a launcher (adapt-lab launch) owns run.json")
    a = ap.parse_args(argv)
    return Trainer(a.folder, a.resume, a.managed).run()


if __name__ == "__main__":
    sys.exit(main())
