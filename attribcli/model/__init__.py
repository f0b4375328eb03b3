"""Models attrib can fine-tune: the built-in GPT (one readable file) and its byte tokenizer, local Hugging
Face causal LMs (hf.py), LoRA adapters (lora.py).

May import: inrun (to register rules for a model's own layer types), errors, files.
"""

from attribcli.model.gpt import GPT, GPTConfig, load_base_weights, save_weights
from attribcli.model.tokenizer import ByteTokenizer

__all__ = ["GPT", "GPTConfig", "ByteTokenizer", "load_base_weights", "save_weights"]
