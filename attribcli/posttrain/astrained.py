"""A finished run prepared as it was trained, from its own directory: what replay, query and survey start from.

Training's ``prepare(config)`` reads the config's sources (corpus, holders, licences) and tokenizes the corpus.
A post-training command must not read them again: they may have changed since, and the run already holds what
came of them. So the run is rebuilt from itself:

- the config from ``RUN/config.yaml`` and the documents' rights, licence decisions and duplicates from
  ``RUN/inputs/documents.jsonl`` (both hashed in the run's manifest, checked first with every other output);
- the corpus's tokens from the token cache the manifest names, checked against its ``tokens_sha256``. Only
  when that cache is gone is the corpus read again, and only if it hashes to what the run was trained on;
- the starting model from the files the manifest records (tokenizer, base weights, Hugging Face model), each
  checked against its hash before it is read. Nothing else of the config's sources is opened.

``tokens=False`` leaves the samples out (a query and a survey's period need the model, tokenizer and
generations only): no document metadata or token is read then.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from attribcli.audit.manifest import check_inputs, check_outputs
from attribcli.config import Config, load_config
from attribcli.data.corpus import Document, iter_documents
from attribcli.data.generations import load_generations
from attribcli.data.tokens import SampleTable, TokenCache, cache_key, open_cache
from attribcli.data.tokens import build as build_token_cache
from attribcli.errors import AttribError
from attribcli.files import sha256_file
from attribcli.posttrain.rundir import MANIFEST, RunAltered, finished
from attribcli.rights.holders import load_holders
from attribcli.rights.licenses import Decision, LicenseClass, LicensePolicy, PolicyOutcome
from attribcli.training.distributed import Group
from attribcli.training.loop import total_steps
from attribcli.training.prepare import Prepared, build_model, resolve_device

MODEL_INPUTS = ("model", "tokenizer", "base_weights")  # what building the starting model reads


def as_trained(run: Path, generations: Path, *, tokens: bool = True, group: Group = Group(),
               field: str = "--generations") -> tuple[Prepared, dict, int]:
    """(the run prepared as trained with ``generations`` as its targets, its manifest, its steps)."""
    run = Path(run)
    manifest = json.loads((finished(run) / MANIFEST).read_text(encoding="utf-8"))
    altered(run, check_outputs(run, manifest))
    if not Path(generations).is_file():
        raise AttribError("generations file not found", file=str(generations), field=field,
                          fix="pass a JSONL file of id, prompt, completion (e.g. from 'attrib generate')")
    config = load_config(run / "config.yaml")
    config = dataclasses.replace(config, run_dir=run.resolve(), data=dataclasses.replace(
        config.data, generations=Path(generations).resolve(), generation_prompts=None))
    altered(run, check_inputs(manifest, MODEL_INPUTS))
    built = build_model(config)
    tok, context, currency = built.tokenizer, built.context, config.payout.currency
    gens = load_generations(generations, context_length=context, currency=currency, tokenizer=tok)
    ref_file = run / "inputs/reference.jsonl"
    reference = load_generations(ref_file, context_length=context, currency=currency, tokenizer=tok,
                                 field="data.reference") if ref_file.is_file() else []
    documents, licensing, duplicate_of, cache, samples = [], None, {}, None, None
    if tokens:
        if not group.main:
            group.barrier()  # process 0 rebuilds a missing token cache and checks the valuation's name first
        documents, licensing, duplicate_of = trained_documents(run, config)
        cache = token_cache(run, manifest, config, tok, documents)
        samples = SampleTable(cache, documents, context, trainable=set(licensing.trained_ids))
        if len(samples) != manifest["samples"]:
            raise RunAltered(f"the run's documents give {len(samples)} samples, its manifest {manifest['samples']}",
                             file=str(run / "inputs/documents.jsonl"), fix="restore the run, or train again")
    trained_with, device = manifest["inputs"], resolve_device(config)
    paths = {k: Path(r["path"]) for k, r in trained_with.items()}
    hashes = {k: r["sha256"] for k, r in trained_with.items()}
    prep = Prepared(config, tok, documents, licensing, samples, gens, built.model.to(device), device, paths, hashes,
                    cache, [], duplicate_of, built.lora, reference)
    if tokens:
        total = total_steps(prep)
        if total != manifest["steps"]:
            raise RunAltered(f"the run's config gives {total} steps, the run took {manifest['steps']}",
                             file=str(run), fix="restore the run, or train again")
    return prep, manifest, manifest["steps"]


def altered(run: Path, problems: list[str]) -> None:
    if problems:
        raise RunAltered(f"the run is not as trained, so it cannot be valued further: {problems[0]}",
                         file=str(run), fix="restore it (attrib verify lists every difference), or train again")


def trained_documents(run: Path, config: Config) -> tuple[list[Document], PolicyOutcome, dict[str, str]]:
    """Every document's metadata (no text), the licence decisions and the duplicates as the run recorded them."""
    policy = LicensePolicy.from_mapping(config.licenses, file=str(config.source))
    documents, decisions, duplicate_of = [], [], {}
    path = run / "inputs/documents.jsonl"
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            d = json.loads(line)
            documents.append(Document(d["id"], "", tuple((h["id"], h["share"]) for h in d["holders"]), d["license"],
                                      d["source"], d["opt_out"], d["text_sha256"]))
            cls = LicenseClass(d["use"], d["attribution"], d["share_alike"], d["public_domain"])
            decisions.append(Decision(d["id"], d["license"], cls, d["trained"], d["pay_to"], d["reason"]))
            if "duplicate_of" in d:
                duplicate_of[d["id"]] = d["duplicate_of"]
    return documents, PolicyOutcome(policy, tuple(decisions)), duplicate_of


def token_cache(run: Path, manifest: dict, config: Config, tok, documents: list[Document]) -> TokenCache:
    """The corpus's tokens as trained: the cache the manifest names (or the same key under this config's cache
    folder), its ``tokens.bin`` hashed against the manifest; else built again from the corpus, if unchanged."""
    want = manifest["token_cache"]["tokens_sha256"]
    inputs = manifest["inputs"]
    tokenizer_id = f"hf:{inputs['model']['sha256']}" if config.model.kind == "hf" else tok.id
    key = cache_key(inputs["corpus"]["sha256"], tokenizer_id)
    root = config.data.token_cache or run.resolve().parent / ".attrib-cache" / "tokens"
    for folder in (Path(manifest["token_cache"]["path"]), Path(root) / key):
        if (folder / "meta.json").is_file():
            cache = open_cache(folder)
            if cache.sha256 == want and sha256_file(folder / "tokens.bin") == want and \
                    len(cache.spans) == len(documents):
                return cache
            if folder == Path(root) / key:  # where it would be built again: altered, not gone
                raise RunAltered("the token cache is not the one the run was trained on (its tokens differ from "
                                 "the manifest's tokens_sha256)", file=str(folder),
                                 fix="delete that folder (it is built again from the corpus, if unchanged)")
    problems = check_inputs(manifest, ("corpus",))
    if problems:
        raise RunAltered(f"the run's token cache is gone and the corpus is not the one trained on: {problems[0]}",
                         file=str(manifest["token_cache"]["path"]),
                         fix="restore the corpus the run was trained on (its hash is in manifest.json)")
    holders = load_holders(run / "inputs/holders.csv")
    try:
        cache, _ = build_token_cache(iter_documents(Path(inputs["corpus"]["path"]), holders), tok, root, key)
    except OSError as exc:
        raise AttribError(f"cannot write the token cache ({exc.strerror or type(exc).__name__})", file=str(root),
                          field="data.token_cache", fix="point data.token_cache at a writable folder") from None
    if cache.sha256 != want:
        raise RunAltered("the corpus tokenizes to other tokens than the run was trained on", file=str(root / key),
                         fix="use the tokenizer version of manifest.json's environment")
    return cache
