"""The run folder as the TypeScript run store writes it (src/engine/core/runs/), so the Runs
view, the Monitor, Compare, eval, every export and `--resume` treat a torchrun run as any other:

  metrics.jsonl        one event per line in the schema of src/protocol/events.ts (append + fsync)
  checkpoints/step-N/  trainable.safetensors, optimizer.safetensors (our names and in-memory
                       layout), state.json with the SHA-256 of both; latest.json points at it;
                       best/ is a copy of the best one
  adapter/             the final PEFT adapter (adapter_model.safetensors + adapter_config.json)
  run.json             only when no launcher owns it (a launch folder run by hand on a cluster)
"""
import datetime
import hashlib
import json
import os
import platform
import shutil
import sys
import uuid

from . import safetensors


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _write_json_atomic(path, value):
    tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(value, indent=2) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Events:
    """Appends events to metrics.jsonl, each line fsynced (it survives a kill right after)."""

    def __init__(self, run_dir, echo=False):
        self.path = os.path.join(run_dir, "metrics.jsonl")
        self.echo = echo
        self._repair_torn_tail()

    def _repair_torn_tail(self):
        # A kill mid-append can leave a last line without its newline: cut it, as store.ts does.
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            return
        with open(self.path, "rb+") as f:
            data = f.read()
            if data.endswith(b"\n"):
                return
            f.truncate(data.rfind(b"\n") + 1)

    def emit(self, event):
        event = {"type": event["type"], "time": now(), **{k: v for k, v in event.items() if k != "type"}}
        line = json.dumps(event, allow_nan=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        if self.echo:
            print(line, end="", flush=True)
        return event

    def log(self, message, level="info"):
        return self.emit({"type": "log", "level": level, "message": message})


# ------------------------------------------------------------------------------ checkpoints

FILES = ("trainable.safetensors", "optimizer.safetensors", "state.json")


def _step_dirs(root):
    out = []
    for name in os.listdir(root) if os.path.isdir(root) else []:
        if name.startswith("step-") and name[5:].isdigit():
            out.append((int(name[5:]), os.path.join(root, name)))
    return sorted(out)


def _complete(d):
    return os.path.isdir(d) and all(os.path.exists(os.path.join(d, f)) for f in FILES)


def save_checkpoint(run_dir, step, tensors, optimizer, meta, best=False, keep=2):
    """Writes checkpoints/step-<step>/ atomically (temp folder, rename), as checkpoint.ts does."""
    root = os.path.join(run_dir, "checkpoints")
    os.makedirs(root, exist_ok=True)
    for name in os.listdir(root):
        if name.startswith(".tmp-"):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
    tmp = os.path.join(root, f".tmp-step-{step}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.makedirs(tmp)
    md = {"step": str(step)}
    safetensors.write(os.path.join(tmp, FILES[0]), tensors, md)
    safetensors.write(os.path.join(tmp, FILES[1]), optimizer, md)
    sha = {f: sha256_file(os.path.join(tmp, f)) for f in FILES[:2]}
    _write_json_atomic(os.path.join(tmp, FILES[2]), {
        "format": 1, "step": step, "time": now(), "trainable": list(tensors), "optimizer": list(optimizer),
        "meta": meta, "sha256": sha,
    })
    # Checkpoints past this step belong to a timeline abandoned by a resume.
    for s, d in _step_dirs(root):
        if s > step:
            shutil.rmtree(d, ignore_errors=True)
    final = os.path.join(root, f"step-{step}")
    if os.path.exists(final):
        old = os.path.join(root, f".old-step-{step}-{uuid.uuid4().hex[:8]}")
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    periodic = [d for s, d in _step_dirs(root) if s != step]
    for d in periodic[:max(0, len(periodic) - (keep - 1))]:
        shutil.rmtree(d, ignore_errors=True)
    _write_json_atomic(os.path.join(root, "latest.json"), {"step": step, "dir": f"step-{step}", "time": now()})
    if best:
        tmp_best = os.path.join(root, f".tmp-best-{uuid.uuid4().hex[:8]}")
        shutil.copytree(final, tmp_best)
        best_dir = os.path.join(root, "best")
        if os.path.exists(best_dir):
            shutil.rmtree(best_dir)
        os.rename(tmp_best, best_dir)
    return final


def read_checkpoint(d):
    """(state.json, trainable tensors, optimizer tensors) of one checkpoint folder, hashes checked."""
    for f in FILES:
        if not os.path.exists(os.path.join(d, f)):
            raise ValueError(f"checkpoint {d} is incomplete: {f} is missing")
    with open(os.path.join(d, "state.json"), encoding="utf-8") as f:
        state = json.load(f)
    for f, want in (state.get("sha256") or {}).items():
        if f in FILES and sha256_file(os.path.join(d, f)) != want:
            raise ValueError(f"corrupt checkpoint: {os.path.join(d, f)}: its SHA-256 is not the one state.json records")
    trainable, _ = safetensors.read(os.path.join(d, FILES[0]))
    optimizer, _ = safetensors.read(os.path.join(d, FILES[1]))
    return state, trainable, optimizer


def latest_good_checkpoint(run_dir):
    """The newest checkpoint that reads back intact (latest.json's, then older ones, then best)."""
    root = os.path.join(run_dir, "checkpoints")
    candidates = []
    try:
        with open(os.path.join(root, "latest.json"), encoding="utf-8") as f:
            candidates.append(os.path.join(root, json.load(f)["dir"]))
    except (OSError, ValueError, KeyError):
        pass
    candidates += [d for _, d in reversed(_step_dirs(root)) if d not in candidates]
    candidates.append(os.path.join(root, "best"))
    skipped = []
    for d in candidates:
        if not _complete(d):
            continue
        try:
            return (d, *read_checkpoint(d)), skipped
        except (ValueError, OSError) as e:
            skipped.append(f"{d}: {e}")
    return None, skipped


# ------------------------------------------------------------------------------ adapter and record

def write_adapter(run_dir, tensors, config):
    """adapter/adapter_model.safetensors + adapter_config.json, as our PEFT export writes them."""
    d = os.path.join(run_dir, "adapter")
    os.makedirs(d, exist_ok=True)
    safetensors.write(os.path.join(d, "adapter_model.safetensors"), tensors, {"format": "pt"})
    with open(os.path.join(d, "adapter_config.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(config, indent=2) + "\n")
    return d


def _machine():
    mem = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            mem = int(f.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return {"platform": sys.platform, "arch": platform.machine(), "cpus": os.cpu_count() or 0, "totalMemMiB": mem, "node": ""}


class StandaloneRecord:
    """run.json kept by the trainer itself when no launcher owns it (a launch folder run by hand):
    created from launch.json's record template, status folded from the events as store.ts does."""

    def __init__(self, run_dir, template, trainer):
        self.path = os.path.join(run_dir, "run.json")
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                self.record = json.load(f)
        else:
            self.record = dict(template, createdAt=now(), machine=_machine())
        self.record.update(status="running", startedAt=now(), pid=trainer["pid"], trainer=trainer)
        for k in ("endedAt", "failure"):
            self.record.pop(k, None)
        _write_json_atomic(self.path, self.record)

    def fold(self, e):
        r = self.record
        t = e["type"]
        if "step" in e:
            r["step"] = e["step"]
        if t == "started":
            r["backend"], r["params"] = e["backend"], e["params"]
        elif t == "eval" and e.get("best"):
            r["bestValLoss"] = e["valLoss"]
        elif t == "checkpoint":
            r["lastCheckpoint"] = e["path"]
        elif t in ("finished", "stopped", "failed"):
            r["status"], r["endedAt"] = t, e["time"]
            r.pop("pid", None)
            r.pop("trainer", None)
            if t == "failed":
                r["failure"] = e["reason"]
            if e.get("bestValLoss") is not None:
                r["bestValLoss"] = e["bestValLoss"]
        elif t == "step":
            return  # not saved on every step
        _write_json_atomic(self.path, r)
