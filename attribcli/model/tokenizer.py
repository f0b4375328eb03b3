"""Byte-level tokenizer: every UTF-8 byte is a token, plus one BOS token.

No vocabulary file and no download, so the sample runs anywhere; any text round-trips exactly.
"""

from __future__ import annotations


class ByteTokenizer:
    vocab_size = 257
    bos_id = 256

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int]) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")
