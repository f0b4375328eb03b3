"""Phase 1 of a training run: check every input and tokenize the corpus; nothing is written yet.

Everything that can be wrong with the inputs is found here, before the run directory exists, so a bad
input costs one line and exit 2 with no partial output.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from attribcli.config import Config
from attribcli.data import duplicates
from attribcli.data.corpus import Document, iter_documents
from attribcli.data.generations import Generation, load_generations, load_prompts
from attribcli.data.tokens import SampleTable, TokenCache, cache_key
from attribcli.data.tokens import build as build_token_cache
from attribcli.data.tokens import discard as discard_token_cache
from attribcli.errors import AttribError
from attribcli.files import sha256_path
from attribcli.model.gpt import GPT, GPTConfig, gib, load_base_weights, physical_memory, refuse_if_too_large
from attribcli.model.lora import apply_lora
from attribcli.model.tokenizer import load_tokenizer
from attribcli.rights.holders import load_holders
from attribcli.rights.licenses import LicensePolicy, PolicyOutcome, apply_policy


@dataclass
class Prepared:
    """Validated inputs, ready to train: nothing on disk has been touched yet."""

    config: Config
    tokenizer: object               # Byte/BPETokenizer or HFTokenizer: encode, decode, bos_id, vocab_size
    documents: list[Document]
    licensing: PolicyOutcome        # per document: licence class, trained or not, paid to whom, why
    samples: SampleTable
    generations: list[Generation]  # [] when the run is valued later, by replay
    model: GPT
    device: torch.device
    input_paths: dict[str, Path]
    input_hashes: dict[str, str]
    token_cache: TokenCache
    duplicates: list[duplicates.Group]  # exact duplicate texts (reported whatever data.duplicates says)
    duplicate_of: dict[str, str]        # copy → the copy trained in its place (data.duplicates: share)
    lora: dict | None                   # rank, alpha, adapted layers (model.lora), or None
    reference: list[Generation] = dataclasses.field(default_factory=list)  # data.reference (inrun/shared.py)

    @property
    def targets(self) -> list[Generation]:
        """What each tracked step values: the generations, then the reference texts (none without generations)."""
        return self.generations + self.reference if self.generations else []


def prepare(config: Config) -> Prepared:
    """Check every input and tokenize the corpus in one streaming pass into the token cache (tokens.py:
    content-addressed, written atomically, reused by later runs); the run directory is not touched."""
    d, mc = config.data, config.model
    inputs = {"config": config.source, "corpus": d.corpus, "holders": d.holders}
    if d.generations is not None:
        inputs["generations"] = d.generations
    if d.generation_prompts is not None:
        inputs["generation_prompts"] = d.generation_prompts
    if d.reference is not None:
        inputs["reference"] = d.reference
    built = build_model(config)
    model, tok, context, lora = built.model, built.tokenizer, built.context, built.lora
    inputs |= built.inputs
    holders = load_holders(d.holders)
    policy = LicensePolicy.from_mapping(config.licenses, file=str(config.source))
    generations = [] if d.generations is None else load_generations(
        d.generations, context_length=context, currency=config.payout.currency, tokenizer=tok)
    reference = [] if d.reference is None else load_generations(
        d.reference, context_length=context, currency=config.payout.currency, tokenizer=tok, field="data.reference")
    if d.generation_prompts is not None:  # completed after training (deployment/generate.py): checked now
        load_prompts(d.generation_prompts, context_length=context, currency=config.payout.currency, tokenizer=tok,
                     field="data.generation_prompts")
    device = resolve_device(config)
    stream = iter_documents(d.corpus, holders)  # checks the file exists; read below, once
    hashes = {k: sha256_path(p) for k, p in inputs.items()}
    tokenizer_id = f"hf:{hashes['model']}" if mc.kind == "hf" else tok.id
    cache_root = d.token_cache or config.run_dir.parent / ".attrib-cache" / "tokens"
    try:
        cache, documents = build_token_cache(stream, tok, cache_root, cache_key(hashes["corpus"], tokenizer_id))
    except OSError as exc:
        raise AttribError(f"cannot write the token cache ({exc.strerror or type(exc).__name__})", file=str(cache_root),
                          field="data.token_cache", fix="point data.token_cache at a writable folder") from None
    try:
        licensing = apply_policy(documents, policy, file=str(d.corpus))
        copies = duplicates.find(documents, licensing)
        duplicate_of = {}
        if d.duplicates == "share":
            licensing, duplicate_of = duplicates.deduplicate(licensing, copies)
        samples = SampleTable(cache, documents, context, trainable=set(licensing.trained_ids))
        if not samples:
            raise AttribError("no document may be trained on under the licence policy", file=str(config.source),
                              field="licenses.trainable", fix="allow more licence classes, or add documents")
        check_batch(config, samples, model, device)
    except AttribError:
        discard_token_cache(cache)
        raise
    return Prepared(config, tok, documents, licensing, samples, generations, model.to(device), device,
                    inputs, hashes, cache, copies, duplicate_of, lora, reference)


@dataclass
class Built:
    """The model as a run starts from it: base weights (and LoRA adapters), its tokenizer, its context."""

    model: object
    tokenizer: object
    context: int
    lora: dict | None                   # rank, alpha, adapted layers, or None
    inputs: dict[str, Path]             # the files it read: model (Hugging Face), tokenizer, base_weights


def build_model(config: Config) -> Built:
    """The config's model at its starting weights, seeded as training seeds it (so a replay builds the same)."""
    mc = config.model
    inputs: dict[str, Path] = {}
    if mc.kind == "hf":
        from attribcli.model.hf import load_hf

        model, tok = load_hf(mc.path, config_file=str(config.source))
        if mc.context_length > model.context_length:  # its position embedding has no row past its own maximum
            raise AttribError(f"context_length {mc.context_length:,} is more than the model's own maximum of "
                              f"{model.context_length} positions", file=str(config.source),
                              field="model.context_length", fix=f"set model.context_length to at most "
                              f"{model.context_length}")
        context = mc.context_length
        inputs["model"] = mc.path
    else:
        if mc.n_embd % mc.n_head:
            raise AttribError(f"n_embd ({mc.n_embd}) is not divisible by n_head ({mc.n_head})",
                              file=str(config.source), field="model.n_head", fix="pick n_head dividing n_embd")
        tok, context = load_tokenizer(mc.tokenizer, config_file=str(config.source)), mc.context_length
        if mc.tokenizer is not None:
            inputs["tokenizer"] = mc.tokenizer
        torch.manual_seed(config.seed)
        shape = GPTConfig(tok.vocab_size, mc.context_length, mc.n_layer, mc.n_head, mc.n_embd)
        refuse_if_too_large(shape, config_file=str(config.source), copies=2)  # weights and gradients, before either
        model = GPT(shape)
        if mc.base_weights is not None:
            load_base_weights(model, mc.base_weights, tokenizer=tok.id, config_file=str(config.source))
            inputs["base_weights"] = mc.base_weights
    lora = None
    if mc.lora is not None:
        torch.manual_seed(config.seed)  # the adapters' initial A
        head = model.lm_head if isinstance(model, GPT) else model.hf.get_output_embeddings()
        layers = apply_lora(model, mc.lora.rank, mc.lora.alpha, mc.lora.targets, head)
        if not layers:
            raise AttribError(f"no layer of the model is named {', '.join(mc.lora.targets)}", file=str(config.source),
                              field="model.lora.targets", fix="use names of its linear layers (e.g. qkv, proj, fc for "
                              "the built-in GPT; c_attn for GPT-2; q_proj for Llama), or [] for all")
        lora = {"rank": mc.lora.rank, "alpha": mc.lora.alpha, "layers": layers}
    return Built(model, tok, context, lora, inputs)


def resolve_device(config: Config) -> torch.device:
    want = config.training.device
    if want == "cuda" and not torch.cuda.is_available():
        raise AttribError("training.device is 'cuda' but no CUDA device is available", file=str(config.source),
                          field="training.device", fix="use 'auto' or 'cpu'")
    return torch.device("cuda" if want == "cuda" or (want == "auto" and torch.cuda.is_available()) else "cpu")


def check_batch(config: Config, samples: SampleTable, model, device: torch.device) -> None:
    """A batch larger than the corpus is a typo (``batch_size: 1000000000``), not a request for one whole-corpus
    step; and a step whose attention and logits cannot fit in memory would end in an OOM kill mid-run."""
    t, source = config.training, str(config.source)
    if t.batch_size > len(samples):
        raise AttribError(f"batch_size {t.batch_size:,} is larger than the {len(samples)} training samples",
                          file=source, field="training.batch_size",
                          fix=f"set training.batch_size to at most {len(samples)} (the whole corpus in one step)")
    T = int(samples.length.max()) - 1  # the longest sample's positions: what a padded step holds
    rows = min(t.micro_batch_size or t.batch_size, len(samples))
    heads, layers, vocab = _shape(model)
    # float32, kept for the backward pass: one attention matrix per layer and head, and the logits. A lower
    # bound of what a step needs (activations, the generations' pass and the captures come on top).
    need = 4 * rows * T * (heads * layers * T + vocab)
    memory = torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else physical_memory()
    if memory is not None and need > memory:
        field = "model.context_length" if T == config.model.context_length else "training.micro_batch_size"
        raise AttribError(f"one step of {rows} samples of {T:,} tokens needs at least {gib(need)} for its attention "
                          f"and logits; this machine's {device.type} memory is {gib(memory)}", file=source,
                          field=field, fix="lower model.context_length, or set training.micro_batch_size "
                                           "(gradient accumulation: the same step in smaller pieces)")


def _shape(model) -> tuple[int, int, int]:
    """(attention heads, layers, vocabulary) of the built-in GPT or a Hugging Face model."""
    if isinstance(model, GPT):
        return model.cfg.n_head, model.cfg.n_layer, model.cfg.vocab_size
    hf = model.hf.config
    return (int(getattr(hf, "num_attention_heads", 1) or 1), int(getattr(hf, "num_hidden_layers", 1) or 1),
            int(model.vocab_size))
