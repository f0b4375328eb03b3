"""Models attrib can fine-tune: the built-in GPT (one readable file) and its tokenizers (bytes, or a BPE
``tokenizer.json``), local Hugging Face causal LMs (hf.py), LoRA adapters (lora.py).

May import: inrun (to register rules for a model's own layer types), errors, files.
"""

from attribcli.model.gpt import GPT, GPTConfig, load_base_weights, save_weights
from attribcli.model.tokenizer import BPETokenizer, ByteTokenizer, load_tokenizer

__all__ = ["GPT", "GPTConfig", "BPETokenizer", "ByteTokenizer", "load_base_weights", "load_tokenizer", "save_weights"]
