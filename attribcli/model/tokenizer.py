"""Tokenizers of the built-in GPT: byte-level (no file) or byte-level BPE (one ``tokenizer.json``).

Bytes need no vocabulary file and round-trip any text, but a model reading bytes spends its capacity
spelling words; BPE (Hugging Face ``tokenizers``, the field's standard) gives the same model about four
times more text per window, which is what lets a small model memorise documents and not only their
domain. Both expose ``encode``, ``decode``, ``bos_id``, ``vocab_size`` and ``id`` (the identity the
token cache and the base weights are keyed by), so nothing downstream knows which it has.
"""

from __future__ import annotations

from pathlib import Path

from attribcli.errors import AttribError
from attribcli.files import sha256_path


class ByteTokenizer:
    vocab_size = 257
    bos_id = 256
    id = "bytes-v1"

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int]) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


class BPETokenizer:
    """A byte-level BPE ``tokenizer.json``; any UTF-8 text round-trips. BOS is the id after the file's last
    token, as the byte tokenizer's is 256: no text, whatever it contains, encodes to it."""

    def __init__(self, path: Path, *, config_file: str | None = None, field: str = "model.tokenizer"):
        from tokenizers import Tokenizer

        path = Path(path)
        if not path.is_file():
            raise AttribError(f"file not found: {path}", file=config_file, field=field,
                              fix="point it at a tokenizer.json made by 'attrib tokenizer', or remove the key")
        try:
            self.tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
            raise AttribError(f"cannot read tokenizer {path}: {type(exc).__name__}", file=config_file,
                              field=field, fix="re-create it with 'attrib tokenizer'") from None
        if self.tok.get_added_tokens_decoder():
            raise AttribError(f"{path} has special tokens, which text could spell out", file=config_file,
                              field=field, fix="re-create it with 'attrib tokenizer' (BOS is added by attrib)")
        self.bos_id = self.tok.get_vocab_size()
        self.vocab_size = self.bos_id + 1
        self.id = f"bpe:{sha256_path(path)}"

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode([i for i in ids if i != self.bos_id])


def load_tokenizer(path: Path | None, *, config_file: str | None = None):
    """The built-in GPT's tokenizer: BPE from ``path``, or bytes when there is none."""
    return ByteTokenizer() if path is None else BPETokenizer(path, config_file=config_file)


def train_bpe(text_path: Path, out: Path, *, vocab_size: int) -> BPETokenizer:
    """Train a byte-level BPE on one text file and write ``tokenizer.json`` atomically.

    Deterministic: the same text and vocabulary size give the same file (tested), so the committed
    tokenizer can be re-made from the base text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from attribcli.files import atomic_write_text

    text_path = Path(text_path)
    if not text_path.is_file():
        raise AttribError(f"text file not found: {text_path}", field="--text", fix="pass a UTF-8 text file")
    if not 257 <= vocab_size <= 65536:
        raise AttribError(f"vocabulary size {vocab_size} is out of range", field="--vocab-size",
                          fix="use 257..65536 (256 bytes + BOS at least; token files are uint16)")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - 1, show_progress=False,  # + BOS
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_paragraphs(text_path.read_text(encoding="utf-8")), trainer=trainer)
    atomic_write_text(out, tok.to_str(pretty=True) + "\n")
    return BPETokenizer(out)


def _paragraphs(text: str):
    return (p for p in text.split("\n\n") if p.strip())
