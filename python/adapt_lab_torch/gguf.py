"""GGUF weights with numpy alone (F32, F16 and BF16 tensors; quantized types are refused by
name). Tensor names are mapped to Hugging Face's, and the q/k rows of llama.cpp's `llama`
architecture are permuted back from Meta's interleaved rotary pairs to Hugging Face's halves,
as the TypeScript loader does (src/engine/model/loader.ts)."""
import re
import struct

import numpy as np

# GGUF metadata value types → struct formats (strings and arrays are read by hand).
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_TYPE_NAMES = {0: "F32", 1: "F16", 30: "BF16"}

LLAMA_NAMES = [
    (r"^token_embd\.weight$", "model.embed_tokens.weight"),
    (r"^output_norm\.weight$", "model.norm.weight"),
    (r"^output\.weight$", "lm_head.weight"),
    (r"^blk\.(\d+)\.attn_norm\.weight$", r"model.layers.\1.input_layernorm.weight"),
    (r"^blk\.(\d+)\.attn_q\.(weight|bias)$", r"model.layers.\1.self_attn.q_proj.\2"),
    (r"^blk\.(\d+)\.attn_k\.(weight|bias)$", r"model.layers.\1.self_attn.k_proj.\2"),
    (r"^blk\.(\d+)\.attn_v\.(weight|bias)$", r"model.layers.\1.self_attn.v_proj.\2"),
    (r"^blk\.(\d+)\.attn_q_norm\.weight$", r"model.layers.\1.self_attn.q_norm.weight"),
    (r"^blk\.(\d+)\.attn_k_norm\.weight$", r"model.layers.\1.self_attn.k_norm.weight"),
    (r"^blk\.(\d+)\.attn_output\.weight$", r"model.layers.\1.self_attn.o_proj.weight"),
    (r"^blk\.(\d+)\.ffn_norm\.weight$", r"model.layers.\1.post_attention_layernorm.weight"),
    (r"^blk\.(\d+)\.ffn_gate\.weight$", r"model.layers.\1.mlp.gate_proj.weight"),
    (r"^blk\.(\d+)\.ffn_up\.weight$", r"model.layers.\1.mlp.up_proj.weight"),
    (r"^blk\.(\d+)\.ffn_down\.weight$", r"model.layers.\1.mlp.down_proj.weight"),
]


class _Reader:
    def __init__(self, data, path):
        self.data, self.pos, self.path = data, 0, path

    def unpack(self, fmt):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ValueError(f"{self.path}: the header runs past the end of the file at byte {self.pos}")
        v = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += size
        return v

    def string(self):
        n = self.unpack("<Q")
        s = self.data[self.pos:self.pos + n].decode("utf-8", errors="replace")
        self.pos += n
        return s

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            item, n = self.unpack("<I"), self.unpack("<Q")
            return [self.value(item) for _ in range(n)]
        if t not in _SCALAR:
            raise ValueError(f"{self.path}: unknown metadata value type {t} at byte {self.pos}")
        return self.unpack(_SCALAR[t])


def read(path):
    """(metadata dict, {gguf name: (type id, shape [rows, cols], absolute offset)}, file bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file (no GGUF magic)")
    r = _Reader(data, path)
    r.pos = 4
    version = r.unpack("<I")
    if version < 2:
        raise ValueError(f"{path}: GGUF version {version} is not supported (2 or 3)")
    n_tensors, n_kv = r.unpack("<Q"), r.unpack("<Q")
    meta = {}
    for _ in range(n_kv):
        key = r.string()
        meta[key] = r.value(r.unpack("<I"))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        ne = [r.unpack("<Q") for _ in range(r.unpack("<I"))]
        infos.append((name, r.unpack("<I"), list(reversed(ne)), r.unpack("<Q")))
    align = int(meta.get("general.alignment", 32))
    start = (r.pos + align - 1) // align * align
    return meta, {n: (t, shape, start + off) for n, t, shape, off in infos}, data


def _tensor(data, name, t, shape, at, path):
    n = int(np.prod(shape))
    if t == 0:
        arr = np.frombuffer(data, dtype="<f4", count=n, offset=at)
    elif t == 1:
        arr = np.frombuffer(data, dtype="<f2", count=n, offset=at).astype(np.float32)
    elif t == 30:
        arr = (np.frombuffer(data, dtype="<u2", count=n, offset=at).astype(np.uint32) << 16).view(np.float32)
    else:
        raise ValueError(f"{path}: tensor \"{name}\" has ggml type {t}, which the PyTorch trainer does not read "
                         "(F32, F16, BF16 only); use an F16/F32 GGUF or the Hugging Face folder of the model")
    return arr.reshape(shape).astype(np.float32)


GPT2_NAMES = [
    (r"^token_embd\.weight$", "transformer.wte.weight"),
    (r"^position_embd\.weight$", "transformer.wpe.weight"),
    (r"^output_norm\.(weight|bias)$", r"transformer.ln_f.\1"),
    (r"^output\.weight$", "lm_head.weight"),
    (r"^blk\.(\d+)\.attn_norm\.(weight|bias)$", r"transformer.h.\1.ln_1.\2"),
    (r"^blk\.(\d+)\.attn_qkv\.(weight|bias)$", r"transformer.h.\1.attn.c_attn.\2"),
    (r"^blk\.(\d+)\.attn_output\.(weight|bias)$", r"transformer.h.\1.attn.c_proj.\2"),
    (r"^blk\.(\d+)\.ffn_norm\.(weight|bias)$", r"transformer.h.\1.ln_2.\2"),
    (r"^blk\.(\d+)\.ffn_up\.(weight|bias)$", r"transformer.h.\1.mlp.c_fc.\2"),
    (r"^blk\.(\d+)\.ffn_down\.(weight|bias)$", r"transformer.h.\1.mlp.c_proj.\2"),
]


def hf_name(name, table=LLAMA_NAMES):
    for pattern, repl in table:
        if re.match(pattern, name):
            return re.sub(pattern, repl, name)
    return None


def unpermute_rope(w, heads):
    """Rows from Meta/GGUF's interleaved pairs (2i, 2i+1) to Hugging Face's halves (i, i+hd/2)."""
    rows = w.shape[0]
    hd = rows // heads
    return w.reshape(heads, hd // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def load_weights(path, config):
    """{Hugging Face name: float32 array in Hugging Face's layout} of a Llama-lineage or GPT-2 GGUF file."""
    meta, infos, data = read(path)
    arch = meta.get("general.architecture")
    gpt2 = config.get("family") == "gpt2"
    out = {}
    for name, (t, shape, at) in infos.items():
        hf = hf_name(name, GPT2_NAMES if gpt2 else LLAMA_NAMES)
        if hf is None:
            continue
        w = _tensor(data, name, t, shape, at, path)
        if gpt2 and w.ndim == 2 and re.search(r"\.(c_attn|c_proj|c_fc)\.weight$", hf):
            w = np.ascontiguousarray(w.T)  # GGUF keeps [out, in]; Hugging Face's Conv1D is [in, out]
        m = re.search(r"self_attn\.(q|k)_proj\.(weight|bias)$", hf)
        if arch == "llama" and m:
            w = unpermute_rope(w, config["heads"] if m.group(1) == "q" else config["kvHeads"])
        out[hf] = w
    return out
