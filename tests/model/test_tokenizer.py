"""Tokenizers of the built-in GPT: a BPE trained by ``attrib tokenizer`` is deterministic and round-trips any
text, and a base model refuses to load under a tokenizer other than the one it was pre-trained with."""

import json

import pytest

from attribcli.errors import AttribError
from attribcli.model.gpt import GPT, GPTConfig, load_base_weights, save_weights
from attribcli.model.tokenizer import BPETokenizer, ByteTokenizer, load_tokenizer, train_bpe
from tests.helpers import one_line
from tests.runs import SAMPLE

TEXT = "The bus was late again, so we walked to the market and bought bread, apples and tea.\n\n" * 40


@pytest.fixture(scope="module")
def bpe(tmp_path_factory):
    d = tmp_path_factory.mktemp("bpe")
    (d / "text.txt").write_text(TEXT + "Numbers: 12, 345; dates 2026-12-02.\n")
    return train_bpe(d / "text.txt", d / "tokenizer.json", vocab_size=300), d


def test_training_is_deterministic(bpe, tmp_path):
    tok, d = bpe
    again = train_bpe(d / "text.txt", tmp_path / "again.json", vocab_size=300)
    assert (tmp_path / "again.json").read_bytes() == (d / "tokenizer.json").read_bytes()
    assert again.id == tok.id and tok.id.startswith("bpe:")


def test_any_text_round_trips_and_bos_is_its_own_token(bpe):
    tok, _ = bpe
    assert tok.vocab_size == 300 and tok.bos_id == 299 == tok.tok.get_vocab_size()
    for text in ("The bus was late again.", "Nf3 Bxe5+ 0-0-0", "naïve café, 10 °C", "  two  spaces\n\ttab",
                 "<|bos|><|endoftext|><s>", ""):
        ids = tok.encode(text)
        assert tok.decode(ids) == text and tok.decode([tok.bos_id] + ids) == text
        assert all(0 <= i < tok.bos_id for i in ids)  # no text spells BOS
    assert len(tok.encode("we walked to the market")) < len(ByteTokenizer().encode("we walked to the market")) / 2


def test_the_committed_sample_tokenizer_is_what_the_command_makes(tmp_path):
    made = train_bpe(SAMPLE / "base_text" / "base_text.txt", tmp_path / "t.json", vocab_size=2048)
    assert (tmp_path / "t.json").read_bytes() == (SAMPLE / "tokenizer.json").read_bytes()
    assert made.vocab_size == 2048


def test_bad_tokenizer_files_are_one_line_errors(tmp_path):
    one_line(_err(lambda: load_tokenizer(tmp_path / "none.json", config_file="c.yaml")), "c.yaml", "model.tokenizer",
             "not found")
    (tmp_path / "junk.json").write_text("{not json")
    one_line(_err(lambda: BPETokenizer(tmp_path / "junk.json")), "model.tokenizer", "cannot read")
    blob = json.loads((SAMPLE / "tokenizer.json").read_text())
    blob["added_tokens"] = [{"id": 0, "content": "<s>", "single_word": False, "lstrip": False, "rstrip": False,
                             "normalized": False, "special": True}]
    (tmp_path / "special.json").write_text(json.dumps(blob))
    one_line(_err(lambda: BPETokenizer(tmp_path / "special.json")), "model.tokenizer", "special tokens")
    (tmp_path / "t.txt").write_text(TEXT)
    one_line(_err(lambda: train_bpe(tmp_path / "t.txt", tmp_path / "o.json", vocab_size=100)), "--vocab-size")
    one_line(_err(lambda: train_bpe(tmp_path / "no.txt", tmp_path / "o.json", vocab_size=300)), "--text")
    assert not (tmp_path / "o.json").exists()


def test_base_weights_are_bound_to_their_tokenizer(bpe, tmp_path):
    tok, _ = bpe
    cfg = GPTConfig(tok.vocab_size, 8, 1, 1, 4)
    save_weights(GPT(cfg), tmp_path / "base.pt", tokenizer=tok.id)
    load_base_weights(GPT(cfg), tmp_path / "base.pt", tokenizer=tok.id)
    msg = one_line(_err(lambda: load_base_weights(GPT(cfg), tmp_path / "base.pt", tokenizer="bpe:" + "0" * 64,
                                                  config_file="c.yaml")), "c.yaml", "model.tokenizer")
    assert tok.id[:20] in msg
    save_weights(GPT(GPTConfig(257, 8, 1, 1, 4)), tmp_path / "old.pt")  # made before tokenizers: bytes
    load_base_weights(GPT(GPTConfig(257, 8, 1, 1, 4)), tmp_path / "old.pt", tokenizer=ByteTokenizer.id)
    one_line(_err(lambda: load_base_weights(GPT(cfg), tmp_path / "old.pt", tokenizer=tok.id)), "vocab_size=257")


def _err(fn) -> AttribError:
    with pytest.raises(AttribError) as info:
        fn()
    return info.value


