"""The corpus's tokens in one memory-mapped file, built in one streaming pass and reused by later runs.

A corpus of millions of documents does not fit in memory as Python strings and token lists. Training
reads the corpus once, line by line (corpus.iter_documents), tokenizes each document that may be
used and appends its ``[BOS] + tokens`` to ``tokens.bin``; only the metadata (ids, holders, licence,
the text's hash) stays in memory. Samples are windows into that file, read when a batch needs them.

The cache is content-addressed: its key is the corpus file's SHA-256 and the tokenizer's identity,
so a changed corpus or tokenizer gets a new cache and an unchanged one is reused. It is written to a
temporary folder and renamed into place (atomic), and ``tokens.bin``'s own SHA-256 is recorded in the
run's manifest. Opted-out documents' text is never written to it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from attribcli.data.corpus import Document, Sample
from attribcli.files import sha256_bytes, sha256_file

FORMAT = "attrib-tokens-v1"


@dataclass(frozen=True)
class TokenCache:
    directory: Path
    tokens: np.ndarray     # flat memmap, uint16 or uint32
    spans: np.ndarray      # [documents, 2] int64: offset and length of [BOS] + tokens (0 when opted out)
    sha256: str            # of tokens.bin
    made: tuple[Path, ...] = ()  # folders this process created (the cache itself first): see ``discard``

    def document_tokens(self, d: int) -> np.ndarray:
        start, length = self.spans[d]
        return self.tokens[start:start + length]


def cache_key(corpus_sha256: str, tokenizer_id: str) -> str:
    return sha256_bytes(f"{FORMAT}\n{corpus_sha256}\n{tokenizer_id}".encode())[:32]


def build(documents: Iterable[Document], tokenizer, root: Path, key: str) -> tuple[TokenCache, list[Document]]:
    """(the cache at ``root/key``, every document's metadata in corpus order). Streams ``documents``
    once; when the cache already exists it is opened and the texts are only validated, not tokenized."""
    final = Path(root) / key
    if (final / "meta.json").is_file():
        return open_cache(final), [d.without_text() for d in documents]
    created = [p for p in [final.parent, *final.parent.parents] if not p.exists()]
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
    try:
        dtype = np.uint16 if tokenizer.vocab_size <= np.iinfo(np.uint16).max + 1 else np.uint32
        meta_docs, spans, offset = [], [], 0
        with open(tmp / "tokens.bin", "wb") as fh:
            for doc in documents:
                meta_docs.append(doc.without_text())
                if doc.opt_out:
                    spans.append((offset, 0))
                    continue
                ids = np.asarray([tokenizer.bos_id] + tokenizer.encode(doc.text), dtype=dtype)
                fh.write(ids.tobytes())
                spans.append((offset, len(ids)))
                offset += len(ids)
            fh.flush()
            os.fsync(fh.fileno())
        np.save(tmp / "spans.npy", np.asarray(spans, dtype=np.int64).reshape(-1, 2), allow_pickle=False)
        meta = {"format": FORMAT, "key": key, "dtype": np.dtype(dtype).name, "tokens": offset,
                "documents": len(spans), "sha256": sha256_file(tmp / "tokens.bin")}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        try:
            os.replace(tmp, final)
            made = (final, *created)
        except OSError:  # another process built the same cache first: use that one (it is not ours to remove)
            if not (final / "meta.json").is_file():
                raise
            made = ()
    except BaseException:  # a bad document mid-stream: leave no trace, not even the folders made for it
        _remove(tmp, created)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    return replace(open_cache(final), made=made), meta_docs


def discard(cache: TokenCache) -> None:
    """Remove a cache this process just built (the run it was for was refused): no output left behind."""
    if cache.made:
        _remove(cache.made[0], list(cache.made[1:]))


def _remove(folder: Path, parents: list[Path]) -> None:
    """``folder``, then the parents this process created for it while they are empty (innermost first)."""
    shutil.rmtree(folder, ignore_errors=True)
    for p in parents:
        try:
            p.rmdir()
        except OSError:
            break


def open_cache(directory: Path) -> TokenCache:
    """The cache built in ``directory`` (its ``meta.json`` names the rest)."""
    meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
    n = meta["tokens"]
    tokens = np.memmap(directory / "tokens.bin", dtype=meta["dtype"], mode="r", shape=(n,)) if n \
        else np.zeros(0, dtype=meta["dtype"])
    return TokenCache(directory, tokens, np.load(directory / "spans.npy", allow_pickle=False), meta["sha256"])


class SampleTable(Sequence[Sample]):
    """The samples of a run as arrays over the token cache; ``table[i]`` builds one ``Sample`` on demand.

    The same windows as ``corpus.make_samples``: every trainable document is cut into windows of at
    most ``context_length`` predicted tokens, in corpus order."""

    def __init__(self, cache: TokenCache, documents: list[Document], context_length: int,
                 trainable: set[str] | None = None):
        self.cache, self._ids = cache, [d.id for d in documents]
        doc, chunk, start, length = [], [], [], []
        for d, document in enumerate(documents):
            if document.opt_out or (trainable is not None and document.id not in trainable):
                continue
            offset, n = cache.spans[d]
            for k, s in enumerate(range(0, n - 1, context_length)):
                doc.append(d)
                chunk.append(k)
                start.append(offset + s)
                length.append(min(context_length + 1, n - s))
        self.doc = np.asarray(doc, dtype=np.int64)
        self.chunk = np.asarray(chunk, dtype=np.int64)
        self.start = np.asarray(start, dtype=np.int64)
        self.length = np.asarray(length, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.doc)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self))[i]
        s, n = self.start[i], self.length[i]
        return Sample(i, self._ids[self.doc[i]], int(self.chunk[i]), tuple(self.cache.tokens[s:s + n].tolist()))

    def __iter__(self) -> Iterator[Sample]:
        return (self[i] for i in range(len(self)))
