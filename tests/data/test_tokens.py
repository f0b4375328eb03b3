"""The streamed corpus and its memory-mapped token cache give exactly the in-memory samples."""

import json

import numpy as np
import pytest

from attribcli.data.corpus import iter_documents, load_corpus, make_samples
from attribcli.data.tokens import SampleTable, build, cache_key
from attribcli.files import sha256_file
from attribcli.model.tokenizer import ByteTokenizer
from attribcli.rights.holders import load_holders
from tests.runs import SAMPLE

TOK = ByteTokenizer()


def _sample_cache(root, key="k"):
    holders = load_holders(SAMPLE / "holders.csv")
    return build(iter_documents(SAMPLE / "corpus.jsonl", holders), TOK, root, key)


@pytest.mark.parametrize("context", [256, 37])
def test_streamed_samples_equal_the_in_memory_samples_on_the_sample(tmp_path, context):
    docs = load_corpus(SAMPLE / "corpus.jsonl", load_holders(SAMPLE / "holders.csv"))
    cache, meta = _sample_cache(tmp_path)
    assert [d.without_text() for d in docs] == meta and all(d.text == "" for d in meta)
    trainable = {d.id for d in docs[::3]}
    for subset in (None, trainable):
        want = make_samples(docs, TOK, context, trainable=subset)
        got = SampleTable(cache, meta, context, trainable=subset)
        assert len(got) == len(want) > 0
        assert list(got) == want  # ids, doc ids, chunks and every token
    assert got[-1] == want[-1] and got[1:3] == want[1:3]


def test_the_cache_is_reused_and_content_addressed(tmp_path):
    cache, _ = _sample_cache(tmp_path)
    stamp = (cache.directory / "tokens.bin").stat().st_mtime_ns
    again, meta = _sample_cache(tmp_path)
    assert again.directory == cache.directory and (again.directory / "tokens.bin").stat().st_mtime_ns == stamp
    assert len(meta) == 260 and again.sha256 == sha256_file(cache.directory / "tokens.bin")
    assert [p.name for p in tmp_path.iterdir()] == ["k"]  # no temporary folder left behind
    assert cache_key("a" * 64, "bytes-v1") != cache_key("b" * 64, "bytes-v1") != cache_key("b" * 64, "hf:x")


def test_opted_out_text_never_reaches_the_cache(tmp_path):
    holders = load_holders(SAMPLE / "holders.csv")
    docs = load_corpus(SAMPLE / "corpus.jsonl", holders)
    out = [d for d in docs if d.opt_out]
    assert out
    cache, meta = _sample_cache(tmp_path)
    blob = (cache.directory / "tokens.bin").read_bytes()
    for d in out:
        i = [m.id for m in meta].index(d.id)
        assert cache.spans[i][1] == 0
        assert np.asarray(TOK.encode(d.text[:80]), dtype=np.uint16).tobytes() not in blob


def test_csv_and_jsonl_corpora_stream_to_the_same_documents(tmp_path):
    holders = load_holders(SAMPLE / "holders.csv")
    docs = load_corpus(SAMPLE / "corpus.jsonl", holders)[:20]
    import csv

    with open(tmp_path / "c.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "holders", "license", "source", "opt_out"])
        for d in docs:
            w.writerow([d.id, d.text, ";".join(f"{h}:{s}" for h, s in d.holders), d.license, d.source,
                        str(d.opt_out).lower()])
    assert list(iter_documents(tmp_path / "c.csv", holders)) == docs
    (tmp_path / "c.jsonl").write_text("".join(json.dumps({"id": d.id, "text": d.text, "license": d.license,
                                                          "source": d.source, "opt_out": d.opt_out,
                                                          "holders": [{"id": h, "share": s} for h, s in d.holders]})
                                              + "\n" for d in docs), encoding="utf-8")
    assert list(iter_documents(tmp_path / "c.jsonl", holders)) == docs
