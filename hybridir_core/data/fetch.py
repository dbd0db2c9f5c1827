"""Every corpus on a fresh machine: pinned URLs, sha256-checked, atomic, with a progress bar.

``python -m hybridir_core data fetch`` downloads XQuAD-R and MLQA-R (google-research-datasets/
lareqa at pinned commits), XNLI (the public 1.0 release, test labels included) and Tatoeba
(LASER's ``data/tatoeba/v1`` at a pinned commit) into the data folder that is read first after
``--data-dir`` (``$HYBRIDIR_DATA_DIR``, else ``data/``; see ``paths``). The URLs and digests are
in ``data/manifest.json`` under ``fetch``; each entry says how its digest was obtained.

Every file goes to a hidden ``.part`` file beside its destination and is renamed into place
only after its length and sha256 check out, so a failed transfer leaves nothing behind. A file
whose digest could not be known when the manifest was written (``XNLI-1.0.zip``: no network
then) is refused unless the user passes ``--trust-on-first-use``; its digest is then recorded
in ``<dest>/trusted-sha256.json`` and checked on every later fetch. ``$HYBRIDIR_FETCH_MIRROR``
(``http://host/prefix``) replaces each URL's scheme and host with ``<mirror>/<host>`` (an
institutional mirror, or the tests' local server).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from hybridir_core import paths
from hybridir_core.data import DataError

MANIFEST = paths.REPO_ROOT / "data" / "manifest.json"
"""Every fetched file's URL (at its pinned commit) and sha256, under ``fetch.files``."""
LAREQA_DATASETS = ("xquad-r", "mlqa-r")
FETCH_DATASETS = (*LAREQA_DATASETS, "xnli", "tatoeba")
MIRROR_ENV = "HYBRIDIR_FETCH_MIRROR"
TRUSTED = "trusted-sha256.json"
XNLI_ZIP = "xnli/XNLI-1.0.zip"
XNLI_MEMBERS = {"dev": "XNLI-1.0/xnli.dev.tsv", "test": "XNLI-1.0/xnli.test.tsv"}
XNLI_STAMP = "xnli/.converted-from"
CHUNK = 1 << 16


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Offline(DataError):
    """The source could not be reached at all (no network, host down)."""


@dataclass(frozen=True)
class Source:
    """One file to fetch: where it goes (relative to the data folder), from where, its digest."""

    path: str
    url: str
    sha256: str | None
    verified: str

    @property
    def dataset(self) -> str:
        return self.path.split("/", 1)[0]


def load_sources(manifest: Path = MANIFEST, datasets: Sequence[str] = FETCH_DATASETS) -> list[Source]:
    """The files of ``datasets`` listed under ``fetch.files`` in ``manifest`` (pinned ones first)."""
    unknown = sorted(set(datasets) - set(FETCH_DATASETS))
    if unknown:
        raise DataError(f"unknown dataset(s) {unknown}; choose from {list(FETCH_DATASETS)}")
    try:
        files = json.loads(manifest.read_text(encoding="utf-8"))["fetch"]["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{manifest}: cannot read the fetch manifest ({exc})") from None
    sources = [Source(rel, e["url"], e.get("sha256"), e.get("verified", "")) for rel, e in files.items()
               if rel.split("/", 1)[0] in datasets]
    # pinned files first: a refused unpinned one never stops the others
    return sorted(sources, key=lambda s: (s.sha256 is None, s.path))


def mirrored(url: str, mirror: str | None) -> str:
    """``url`` with its scheme and host replaced by ``<mirror>/<host>`` (unchanged without one)."""
    if not mirror:
        return url
    parts = urllib.parse.urlsplit(url)
    return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path}"


def _copy_response(response, out, label: str, progress: bool) -> tuple[int, str, int | None]:
    """Stream ``response`` into ``out``; returns (bytes, sha256, announced length)."""
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    digest, received = hashlib.sha256(), 0
    with tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=not progress, leave=False) as bar:
        while chunk := response.read(CHUNK):
            out.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    return received, digest.hexdigest(), total


def download(url: str, dest: Path, expected: str | None, label: str = "", progress: bool = True,
             timeout: float = 30.0) -> str:
    """Fetch ``url`` into ``dest`` atomically; returns its sha256.

    Raises:
        DataError: HTTP error, no network, truncated transfer, or a digest other than
            ``expected`` (None = record what arrives). Nothing is left at ``dest`` or beside it.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, tmp.open("wb") as out:
            received, digest, total = _copy_response(response, out, label or dest.name, progress)
        if total is not None and received != total:
            raise DataError(f"{url}: truncated transfer ({received} of {total} bytes); rerun to retry")
        if expected is not None and digest != expected:
            raise DataError(f"{url}: checksum mismatch (sha256 {digest}, expected {expected}); not kept")
        os.replace(tmp, dest)
        return digest
    except urllib.error.HTTPError as exc:
        raise DataError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except http.client.IncompleteRead as exc:
        raise DataError(f"{url}: truncated transfer ({len(exc.partial)} bytes, then the connection "
                        "closed); rerun to retry") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise Offline(f"cannot download {url} ({reason})") from None
    finally:
        tmp.unlink(missing_ok=True)


def default_dest() -> Path:
    """Where fetched files go: ``$HYBRIDIR_DATA_DIR`` if set, else ``data/`` (read in that order)."""
    env = os.environ.get(paths.DATA_DIR_ENV)
    return Path(env).expanduser() if env else paths.DEFAULT_DATA_ROOTS[0]


def read_trusted(dest: Path) -> dict[str, dict]:
    """Digests recorded on first use in ``<dest>/trusted-sha256.json`` (``{path: {sha256, url, ...}}``)."""
    path = dest / TRUSTED
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataError(f"{path}: unreadable ({exc}); delete it to trust the files again") from None


def _record_trusted(dest: Path, source: Source, digest: str) -> None:
    trusted = read_trusted(dest)
    trusted[source.path] = {"sha256": digest, "url": source.url,
                            "recorded": datetime.now(UTC).isoformat(timespec="seconds")}
    tmp = dest / f".{TRUSTED}.part"
    tmp.write_text(json.dumps(trusted, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, dest / TRUSTED)


def fetch_file(source: Source, dest: Path, trust_on_first_use: bool = False, mirror: str | None = None,
               progress: bool = True) -> str:
    """Make ``dest/source.path`` hold the verified file; returns what was done (one word).

    ``present`` (already there and verified), ``downloaded``, or ``trusted`` (downloaded or
    found without a pinned digest, and recorded because ``trust_on_first_use``).

    Raises:
        DataError: a refused file (mismatch, truncation, HTTP error, no digest and no trust).
    """
    target = dest / source.path
    expected = source.sha256 or read_trusted(dest).get(source.path, {}).get("sha256")
    if target.is_file():
        digest = sha256_of(target)
        if expected is not None:
            if digest == expected:
                return "present"
            target.unlink()  # a stale or damaged copy: fetch it again
        elif trust_on_first_use:
            _record_trusted(dest, source, digest)
            return "trusted"
        else:
            raise DataError(f"{target}: no pinned sha256 ({source.verified}); pass --trust-on-first-use "
                            f"to accept this file and record its sha256 {digest} in {dest / TRUSTED}")
    if expected is None and not trust_on_first_use:
        raise DataError(f"{source.path}: no pinned sha256 ({source.verified}); pass --trust-on-first-use "
                        f"to download it from {source.url} and record its sha256 in {dest / TRUSTED}")
    digest = download(mirrored(source.url, mirror), target, expected, source.path, progress)
    if expected is None:
        _record_trusted(dest, source, digest)
        return "trusted"
    return "downloaded"


# -- XNLI 1.0 -> the per-language files corpora.load_xnli reads ----------------------------------
def _xnli_rows(text: str, member: str) -> dict[str, dict[str, list[str]]]:
    """``{lang: {pairID: [premise, hypothesis, label]}}`` of one XNLI 1.0 TSV (first row a header)."""
    lines = [line.removesuffix("\r") for line in text.split("\n") if line.strip()]
    header = lines[0].split("\t")
    try:
        col = {name: header.index(name) for name in ("language", "gold_label", "sentence1", "sentence2", "pairID")}
    except ValueError as exc:
        raise DataError(f"{member}: not the XNLI 1.0 layout ({exc})") from None
    out: dict[str, dict[str, list[str]]] = {}
    for i, line in enumerate(lines[1:], 2):
        row = line.split("\t")
        if len(row) != len(header):
            raise DataError(f"{member}: line {i} has {len(row)} columns, the header {len(header)}")
        fields = [row[col["sentence1"]].strip(), row[col["sentence2"]].strip(), row[col["gold_label"]].strip()]
        out.setdefault(row[col["language"]], {})[row[col["pairID"]]] = fields
    return out


def convert_xnli(zip_path: Path, out_dir: Path) -> list[Path]:
    """Write ``{dev,test}-<lang>.tsv`` (premise, hypothesis, label) from ``XNLI-1.0.zip``.

    Row i is the same pair in every language: rows follow the English file's pairID order.
    """
    written = []
    with zipfile.ZipFile(zip_path) as archive:
        for split, member in XNLI_MEMBERS.items():
            try:
                by_lang = _xnli_rows(archive.read(member).decode("utf-8"), member)
            except KeyError:
                raise DataError(f"{zip_path}: has no {member}") from None
            order = list(by_lang.get("en", {}))
            for lang, rows in sorted(by_lang.items()):
                missing = [pid for pid in order if pid not in rows]
                if missing or len(rows) != len(order):
                    raise DataError(f"{member}: {lang} has {len(rows)} pairs, English {len(order)}")
                path = out_dir / f"{split}-{lang}.tsv"
                tmp = path.with_name(f".{path.name}.part")
                tmp.write_text("".join("\t".join(rows[pid]) + "\n" for pid in order), encoding="utf-8")
                os.replace(tmp, path)
                written.append(path)
    return written


def _prepare_xnli(dest: Path, digest: str) -> str:
    """Convert the verified zip unless its conversion is already there."""
    stamp = dest / XNLI_STAMP
    if stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == digest:
        return "present"
    convert_xnli(dest / XNLI_ZIP, dest / "xnli")
    stamp.write_text(digest + "\n", encoding="utf-8")
    return "converted"


def offline_hint(dest: Path, sources: Sequence[Source]) -> str:
    """The one line that says where to put the files by hand."""
    names = sorted({s.path.rsplit("/", 1)[0] + "/" for s in sources})
    return (f"put the files under {dest}/ ({', '.join(names)}; names and sha256 in "
            f"{MANIFEST.relative_to(paths.REPO_ROOT) if MANIFEST.is_relative_to(paths.REPO_ROOT) else MANIFEST}"
            f" under fetch.files; XNLI as {XNLI_ZIP}), or point --data-dir / {paths.DATA_DIR_ENV} at a "
            "folder holding them, then rerun `python -m hybridir_core data fetch` to verify them")


def fetch_all(dest: Path | None = None, datasets: Sequence[str] = FETCH_DATASETS, trust_on_first_use: bool = False,
              manifest: Path = MANIFEST, mirror: str | None = None, progress: bool = True) -> dict[str, str]:
    """Fetch and verify every file of ``datasets`` into ``dest``; returns ``{path: what was done}``.

    Raises:
        DataError: the first refused file; without a network, one line on where to put the files.
    """
    dest = Path(dest) if dest is not None else default_dest()
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV)
    sources = load_sources(manifest, datasets)
    done: dict[str, str] = {}
    for source in sources:
        try:
            done[source.path] = fetch_file(source, dest, trust_on_first_use, mirror, progress)
        except Offline as exc:
            raise DataError(f"offline? {exc}: {offline_hint(dest, sources)}") from None
    if XNLI_ZIP in done:
        digest = sha256_of(dest / XNLI_ZIP)
        done["xnli/*.tsv"] = _prepare_xnli(dest, digest)
    return done
