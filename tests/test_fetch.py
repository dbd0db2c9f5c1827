"""``data fetch`` against a local HTTP server on 127.0.0.1: checksums, truncation, 404, offline."""

import hashlib
import io
import json
import re
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hybridir_core import cli, paths
from hybridir_core.data import DataError
from hybridir_core.data.corpora import load_xnli
from hybridir_core.data.fetch import MANIFEST, TRUSTED, Source, fetch_all, fetch_file, load_sources

SHARED = paths.DEFAULT_DATA_ROOTS[1]
FILES = {"hello.txt": b"hello, fetch\n" * 1000}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Handler(BaseHTTPRequestHandler):
    """``/files/<name>``: FILES; ``/truncated/<name>``: announces more bytes than it sends;
    ``/mirror/<host>/.../<folder>/<file>``: ``<folder>/<file>`` (or ``tatoeba/<file>``) of the
    shared datasets, else FILES."""

    def do_GET(self):  # noqa: N802 - http.server's name
        kind, _, rest = self.path.lstrip("/").partition("/")
        body = FILES.get(rest) if kind in ("files", "truncated") else None
        if kind == "mirror":
            parts = rest.split("/")
            local = [SHARED / d / parts[-1] for d in (parts[-2], "tatoeba") if (SHARED / d / parts[-1]).is_file()]
            body = FILES.get(parts[-1]) or (local[0].read_bytes() if local else None)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + (5000 if kind == "truncated" else 0)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if kind == "truncated" else body)
        if kind == "truncated":
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def source(url: str, digest: str | None) -> Source:
    return Source("corpus/hello.txt", url, digest, "test")


def leftovers(dest: Path) -> list[str]:
    return sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())


def test_checksum_ok(server, tmp_path):
    what = fetch_file(source(f"{server}/files/hello.txt", sha(FILES["hello.txt"])), tmp_path, progress=False)
    assert what == "downloaded" and (tmp_path / "corpus/hello.txt").read_bytes() == FILES["hello.txt"]
    assert leftovers(tmp_path) == ["corpus/hello.txt"]  # no .part file
    assert fetch_file(source("http://127.0.0.1:9/never-asked", sha(FILES["hello.txt"])), tmp_path) == "present"


def test_checksum_mismatch_is_refused_and_nothing_is_left(server, tmp_path):
    with pytest.raises(DataError, match="checksum mismatch") as info:
        fetch_file(source(f"{server}/files/hello.txt", "0" * 64), tmp_path, progress=False)
    assert "\n" not in str(info.value) and leftovers(tmp_path) == []


def test_truncated_transfer_is_refused(server, tmp_path):
    with pytest.raises(DataError, match="truncated transfer") as info:
        fetch_file(source(f"{server}/truncated/hello.txt", sha(FILES["hello.txt"])), tmp_path, progress=False)
    assert "\n" not in str(info.value) and leftovers(tmp_path) == []


def test_404_is_one_line(server, tmp_path):
    with pytest.raises(DataError, match=r"missing.txt: HTTP 404 Not Found$") as info:
        fetch_file(source(f"{server}/files/missing.txt", "0" * 64), tmp_path, progress=False)
    assert "\n" not in str(info.value) and leftovers(tmp_path) == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_offline_says_where_to_put_the_files(tmp_path, capsys):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"fetch": {"files": {"tatoeba/a.eng": {
        "url": f"http://127.0.0.1:{closed_port()}/a.eng", "sha256": "0" * 64}}}}))
    with pytest.raises(DataError, match=r"^offline\? cannot download .*put the files under .*dest/ "
                                        r"\(tatoeba/;.*then rerun") as info:
        fetch_all(tmp_path / "dest", ["tatoeba"], manifest=manifest, mirror="", progress=False)
    assert "\n" not in str(info.value)


def test_an_unpinned_file_needs_trust_on_first_use_and_is_then_pinned(server, tmp_path):
    url = f"{server}/files/hello.txt"
    with pytest.raises(DataError, match="no pinned sha256.*--trust-on-first-use"):
        fetch_file(source(url, None), tmp_path, progress=False)
    assert leftovers(tmp_path) == []
    assert fetch_file(source(url, None), tmp_path, trust_on_first_use=True, progress=False) == "trusted"
    recorded = json.loads((tmp_path / TRUSTED).read_text())
    assert recorded["corpus/hello.txt"]["sha256"] == sha(FILES["hello.txt"])
    assert fetch_file(source(url, None), tmp_path, progress=False) == "present"  # now pinned, no flag needed
    (tmp_path / "corpus/hello.txt").unlink()
    FILES["hello.txt"], original = b"tampered\n", FILES["hello.txt"]
    try:  # the source changed after first use: refused, even with the flag
        with pytest.raises(DataError, match="checksum mismatch"):
            fetch_file(source(url, None), tmp_path, trust_on_first_use=True, progress=False)
    finally:
        FILES["hello.txt"] = original
    assert not (tmp_path / "corpus/hello.txt").exists()


XNLI_HEADER = ["language", "gold_label", "sentence1_binary_parse", "sentence2_binary_parse", "sentence1_parse",
               "sentence2_parse", "sentence1", "sentence2", "promptID", "pairID", "genre"]


def xnli_zip() -> bytes:
    """A tiny XNLI 1.0 release: en and de, German rows in another order than English."""
    rows = {"en": [("1", "The cat sleeps.", "A cat rests.", "entailment"),
                   ("2", "The cat sleeps.", "A dog barks.", "neutral")],
            "de": [("2", "Die Katze schläft.", "Ein Hund bellt.", "neutral"),
                   ("1", "Die Katze schläft.", "Eine Katze ruht.", "entailment")]}
    lines = ["\t".join(XNLI_HEADER)]
    for lang, items in rows.items():
        for pair, premise, hypothesis, label in items:
            lines.append("\t".join([lang, label, "(", "(", "(", "(", premise, hypothesis, "7", pair, "fiction"]))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for split in ("dev", "test"):
            archive.writestr(f"XNLI-1.0/xnli.{split}.tsv", "\r\n".join(lines) + "\r\n")
    return buffer.getvalue()


def test_xnli_release_zip_becomes_aligned_per_language_files(server, tmp_path):
    FILES["XNLI-1.0.zip"] = xnli_zip()
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"fetch": {"files": {"xnli/XNLI-1.0.zip": {
        "url": "https://dl.fbaipublicfiles.com/XNLI/XNLI-1.0.zip", "sha256": None}}}}))
    dest = tmp_path / "data"
    done = fetch_all(dest, ["xnli"], trust_on_first_use=True, manifest=manifest, mirror=f"{server}/mirror",
                     progress=False)
    assert done == {"xnli/XNLI-1.0.zip": "trusted", "xnli/*.tsv": "converted"}
    assert (dest / "xnli/test-de.tsv").read_text(encoding="utf-8").splitlines() == [
        "Die Katze schläft.\tEine Katze ruht.\tentailment", "Die Katze schläft.\tEin Hund bellt.\tneutral"]
    corpus = load_xnli(dest, languages=("en", "de"))  # test labels kept: 3 columns
    assert len(corpus) == 4 and corpus.queries[1].tolist() == ["A dog barks.", "Ein Hund bellt."]
    again = fetch_all(dest, ["xnli"], manifest=manifest, mirror=f"{server}/mirror", progress=False)
    assert again == {"xnli/XNLI-1.0.zip": "present", "xnli/*.tsv": "present"}


@pytest.mark.skipif(not (SHARED / "tatoeba").is_dir(), reason="needs ../shared/datasets to serve the real files")
def test_the_real_manifest_through_a_mirror(server, tmp_path, monkeypatch, capsys):
    """The pinned names and digests fetch the real Tatoeba and MLQA-R files byte for byte."""
    monkeypatch.setenv("HYBRIDIR_FETCH_MIRROR", f"{server}/mirror")
    code = cli.main(["data", "fetch", "--datasets", "tatoeba", "mlqa-r", "--dest", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and len(re.findall(r"^downloaded ", out, re.M)) == 20 + 7
    for entry in load_sources(MANIFEST, ["tatoeba", "mlqa-r"]):
        assert (tmp_path / entry.path).read_bytes() == (SHARED / entry.path).read_bytes()


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/datasets")
def test_manifest_digests_are_those_of_the_shared_copies():
    sources = load_sources(MANIFEST)
    pinned = [s for s in sources if s.sha256]
    assert {s.dataset for s in pinned} == {"xquad-r", "mlqa-r", "tatoeba"} and len(pinned) == 11 + 7 + 20
    for s in pinned:
        assert hashlib.sha256((SHARED / s.path).read_bytes()).hexdigest() == s.sha256, s.path
    assert [s.path for s in sources if not s.sha256] == ["xnli/XNLI-1.0.zip"]
    commits = {s.dataset: s.url.split("/lareqa/")[1].split("/")[0] for s in pinned if "/lareqa/" in s.url}
    assert commits == {"xquad-r": "9bc8c7fb6dd8d01d72a05a93c2cb96882b0d299c",
                       "mlqa-r": "354d67d1cd066854cdfbf5ad0e6105528976141d"}  # one pinned commit each
