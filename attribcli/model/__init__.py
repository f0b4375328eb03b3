"""Models attrib can fine-tune: the built-in GPT (one readable file) and its byte tokenizer."""

from attribcli.model.gpt import GPT, GPTConfig, load_base_weights, save_weights
from attribcli.model.tokenizer import ByteTokenizer

__all__ = ["GPT", "GPTConfig", "ByteTokenizer", "load_base_weights", "save_weights"]
