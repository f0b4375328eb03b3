"""The run directory: the contract between ``attrib train`` and every later command.

A run is built in ``<run_dir>.partial/`` and renamed to ``<run_dir>/`` when it is complete, so a
directory under the final name is always a finished run; an interrupted one stays ``.partial`` and
``attrib train --resume`` continues it. Layout (all written atomically, all hashed in the manifest):

    config.yaml              resolved config: absolute paths, every default filled in
    inputs/documents.jsonl   rights metadata of every document, its licence class and the policy's
                             decision (trained? paid to holders / commons / none? why); no text,
                             its SHA-256 instead
    inputs/ownership.csv     where each trained document's value goes: doc_id, holder (or ESCROW,
                             COMMONS, UNALLOCATED), share (a duplicate's split included)
    inputs/duplicates.csv    exact duplicate texts: copies, holders, what happened to each
    inputs/holders.csv       copy of the holders table
    inputs/generations.jsonl the generations valued
    samples.csv              sample → document, chunk, predicted tokens, steps it was trained in
    values.npy               float64 [samples × generations] In-Run Data Shapley values used downstream
    values_order1.npy, values_order2.npy   with the taylor rule at order 2: the two parts of values.npy
    losses.csv               per generation: reference/base/final losses, value sums, carry, efficiency gap
    steps.csv                per step: epoch, learning rate, training loss, Σ |value|
    target_steps.csv         per step and generation: loss before the step, predicted reduction, carry,
                             realised reduction (path rule: and the quadrature nodes the step took)
    model.pt                 fine-tuned weights
    checkpoints/last.pt      latest checkpoint (resume; removed when the run completes)
    tally/                   while training: the value table being accumulated (tally.py); removed at the end
    manifest.json            SHA-256 of inputs and outputs, method, environment: written last
    checkpoints/step-N.pt    with training.replay_segments > 1: weights and optimizer state where each
                             replay segment starts (replay.py)
    reports/                 statements and ledgers written later: re-derived by verify, not hashed
    valuations/NAME/         generations valued after training by 'attrib replay' (replay.py), each
                             with its own manifest naming this one's

A run trained without generations (``data.generations`` left out) has no values.npy, losses.csv,
target_steps.csv or inputs/generations.jsonl of its own: only replays value it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from attribcli.audit.manifest import VALUATIONS
from attribcli.errors import AttribError
from attribcli.inrun.shared import REFERENCE_COLUMNS
from attribcli.training.layout import CHECKPOINT, MANIFEST, partial_dir

__all__ = ["CHECKPOINT", "MANIFEST", "partial_dir"]  # the layout's names, read with the rest of it


@dataclass
class Run:
    """A finished run, loaded for valuation and payouts. The documents' metadata is parsed on first use
    (millions of JSON lines take seconds): holder values read ``inputs/ownership.csv`` instead."""

    path: Path
    manifest: dict
    holders: pd.DataFrame
    generations: pd.DataFrame
    samples: pd.DataFrame
    values: np.ndarray | None             # [samples × generations]; None in a payee-level valuation
    losses: pd.DataFrame
    valuation: str | None = None          # a replay's name (valuations/NAME/); None: the training-time generations
    valuation_manifest: dict | None = None
    _documents: pd.DataFrame | None = None
    shared: np.ndarray | None = None      # [samples × generations] the values' shared parts (data.reference)
    reference: np.ndarray | None = None   # [samples × 2] value for the reference texts, share of each step's
    payee_values: np.ndarray | None = None  # [generations × payees] of a payee-level valuation (values: None)
    payees: list[str] | None = None         # its columns

    @property
    def parts(self) -> bool:
        """Whether the values are split into shared and specific parts (trained with ``data.reference``)."""
        return self.shared is not None

    @property
    def documents(self) -> pd.DataFrame:
        if self._documents is None:
            self._documents = _read(self.path, "inputs/documents.jsonl",
                                    lambda p: pd.read_json(p, lines=True, dtype={"id": str}))
        return self._documents

    @property
    def values_folder(self) -> Path:
        """Where the value tables read come from: the run itself, or ``valuations/NAME``."""
        return self.path if self.valuation is None else self.path / VALUATIONS / self.valuation

    @property
    def summary(self) -> dict:
        """The manifest holding these values' efficiency and fidelity (the valuation's for a replay)."""
        return self.manifest if self.valuation_manifest is None else self.valuation_manifest

    @property
    def manifest_sha256(self) -> str:
        """What a report names as its source: the run's manifest, or for a replay the valuation's (which names
        the run's)."""
        from attribcli.files import sha256_file

        return sha256_file(self.values_folder / MANIFEST)


def valuations(path: Path) -> list[str]:
    """The finished valuations (replays) of a run, by name."""
    folder = Path(path) / VALUATIONS
    return sorted(p.name for p in folder.iterdir() if (p / MANIFEST).is_file()) if folder.is_dir() else []


def choose_valuation(path: Path, manifest: dict, valuation: str | None) -> str | None:
    """``--valuation``: the name given; by default the training-time generations when the run has any, else
    its only valuation; else a one-line error listing them."""
    names = valuations(path)
    if valuation is not None:
        if valuation not in names:
            raise AttribError(f"the run has no valuation '{valuation}'"
                              + (f" (it has: {', '.join(names)})" if names else ""), file=str(path),
                              field="--valuation", fix="pass one of its valuations, or replay one with "
                                                       "'attrib replay RUN --generations FILE --name NAME'")
        return valuation
    if manifest.get("generations", 1):
        return None
    if len(names) == 1:
        return names[0]
    if not names:
        raise AttribError("the run was trained without generations and has no valuation yet", file=str(path),
                          field="--valuation", fix="value generations with 'attrib replay RUN --generations FILE "
                                                   "--name NAME'")
    raise AttribError(f"the run has {len(names)} valuations: {', '.join(names)}", file=str(path),
                      field="--valuation", fix="pick one with --valuation NAME")


def finished(path: str | Path) -> Path:
    """``path`` if it is a finished run (it has its manifest), else the one-line error saying what it is."""
    from attribcli.training.replace import finish

    path = Path(path)
    finish(path)  # an 'attrib train --overwrite' killed while swapping the new run in: completed first
    if not (path / MANIFEST).is_file():
        if partial_dir(path.resolve()).is_dir() or path.name.endswith(".partial"):
            raise AttribError("the run is unfinished (training was interrupted)", file=str(path),
                              fix="continue it with 'attrib train CONFIG --resume'")
        raise AttribError(f"not a finished attrib run: no {MANIFEST}", file=str(path),
                          fix="pass the run directory that 'attrib train' printed")
    return path


class RunAltered(AttribError):
    """A file a command was about to read is not as the run's manifest recorded it: the command refuses
    (exit 1, like verify's findings) rather than pay or report from an edited run."""

    exit_code = 1


# what value and payout read of a run (and of a valuation): checked against the manifest before any is parsed
PAYEE_VALUES = "payee_values.npy"  # a payee-level valuation's [generations × payees] (attrib query --per payee)
PART_TABLES = ("values_shared.npy", "values_reference.npy")  # with data.reference only (tally.py)
VALUE_READS = ("config.yaml", "inputs/documents.jsonl", "inputs/ownership.csv", "inputs/holders.csv",
               "inputs/generations.jsonl", "samples.csv", "values.npy", "losses.csv") + PART_TABLES
VALUATION_READS = ("generations.jsonl", "values.npy", "losses.csv", PAYEE_VALUES) + PART_TABLES
RIGHTS_READS = ("config.yaml", "inputs/documents.jsonl", "inputs/ownership.csv", "inputs/holders.csv", "samples.csv")


_PENDING: list = []  # value tables still being hashed (check_reads(..., behind=...)); confirm_reads() waits


def check_reads(path: Path, names, *, manifest: dict | None = None, behind: tuple[str, ...] = ()) -> dict:
    """Refuse (``RunAltered``, one line naming the file) unless each of ``names`` under ``path`` is the file
    ``path/manifest.json`` recorded: same SHA-256, none missing, none added. A name the manifest does not
    record and the folder does not hold is not part of this run and is skipped. Returns the manifest.

    The names in ``behind`` (the value table: 7.5 GiB at 10 million samples) are hashed on a thread while
    the command computes from them; ``confirm_reads`` waits for that hash and refuses, and every output of
    a command goes through it first (cli._emit), so nothing made from an altered table leaves the process.
    On two cores this hides the hash behind the report's own pass (benchmarks/RESULTS.md)."""
    from concurrent.futures import ThreadPoolExecutor

    from attribcli.files import sha256_file

    path = Path(path)
    if manifest is None:
        manifest = _read(path, MANIFEST, lambda p: json.loads(p.read_text(encoding="utf-8")))
    recorded = manifest.get("outputs") if isinstance(manifest, dict) else None
    if not isinstance(recorded, dict):
        raise RunAltered("the manifest records no file hashes", file=str(path / MANIFEST),
                         fix="run 'attrib verify' on it, or train it again")
    fix = "restore the file as training wrote it ('attrib verify' lists every difference), or train again"
    present = []
    for name in names:
        exists = (path / name).is_file()
        if name not in recorded and exists:
            raise RunAltered("not in the run's manifest (added after the run was written)", file=str(path / name),
                             fix="remove it, or train again")
        if name in recorded and not exists:
            raise RunAltered("missing from the run (its manifest records it)", file=str(path / name), fix=fix)
        if exists:
            present.append(name)

    def compare(names):
        for name in names:
            if sha256_file(path / name) != recorded[name]:
                raise RunAltered("changed since the run was written (its SHA-256 is not the manifest's)",
                                 file=str(path / name), fix=fix)

    later = [n for n in present if n in behind]
    if later:
        pool = ThreadPoolExecutor(max_workers=1)
        _PENDING.append(pool.submit(compare, later))
        pool.shutdown(wait=False)
    now = [n for n in present if n not in behind]
    with ThreadPoolExecutor(max_workers=max(1, min(len(now), os.cpu_count() or 1))) as pool:
        list(pool.map(lambda n: compare([n]), now))
    return manifest


def confirm_reads(*, drop: bool = False) -> None:
    """Wait for the hashes ``check_reads`` left running; ``RunAltered`` if a file was not the manifest's.
    Called before any output is written, and before any other error is reported (cli). ``drop``: forget them."""
    while _PENDING:
        pending = _PENDING.pop(0)
        if drop:
            pending.cancel()
        else:
            pending.result()


def open_run(path: str | Path, valuation: str | None = None, *, check: bool = True, behind: bool = False) -> Run:
    """A finished run with one set of values: the training-time generations' or a valuation's
    (``choose_valuation``). With ``check`` (every command but verify, which lists every difference
    itself), what is read is first checked against the run's manifest and the valuation's (``check_reads``);
    ``behind``: the value table's hash runs on a thread, and the caller must ``confirm_reads`` before any output
    (the CLI does)."""
    path = finished(path)
    def read(name, loader):
        return _read(path, name, loader)

    manifest = read(MANIFEST, lambda p: json.loads(p.read_text(encoding="utf-8")))
    if check:
        check_reads(path, VALUE_READS, manifest=manifest, behind=("values.npy", *PART_TABLES) if behind else ())
    if not (path / "inputs/documents.jsonl").is_file():
        read("inputs/documents.jsonl", lambda p: p.read_bytes())  # missing: say so now, not at first use
    holders = read("inputs/holders.csv", lambda p: pd.read_csv(p, dtype=str, keep_default_na=False))
    valuation = choose_valuation(path, manifest, valuation)
    own = "" if valuation is None else f"{VALUATIONS}/{valuation}/"
    vmanifest = None if valuation is None else read(own + MANIFEST, lambda p: json.loads(p.read_text(encoding="utf-8")))
    if check and valuation is not None:
        from attribcli.files import sha256_file

        check_reads(path / own, VALUATION_READS, manifest=vmanifest,
                    behind=("values.npy", *PART_TABLES) if behind else ())
        if vmanifest.get("run_manifest_sha256") != sha256_file(path / MANIFEST):
            raise RunAltered("made from another state of the run (the run manifest hash it names differs)",
                             file=str(path / own / MANIFEST), fix="replay the valuation again against this run")
    generations = read(own + ("generations.jsonl" if valuation else "inputs/generations.jsonl"),
                       lambda p: pd.read_json(p, lines=True, dtype=False))
    samples = read("samples.csv", lambda p: pd.read_csv(p, dtype={"doc_id": "category"}))  # codes, not 10M strings
    losses = read(own + "losses.csv", lambda p: pd.read_csv(p, dtype={"generation_id": str}))
    if vmanifest is not None and vmanifest.get("per") == "payee":
        by_payee = read(own + PAYEE_VALUES, lambda p: np.load(p, mmap_mode="r", allow_pickle=False))
        payees = [str(p) for p in vmanifest.get("payees", [])]
        if by_payee.dtype != np.float64 or by_payee.shape != (len(generations), len(payees)):
            raise AttribError(f"{PAYEE_VALUES} holds {by_payee.dtype} {by_payee.shape}, expected float64 "
                              f"({len(generations)}, {len(payees)})", file=str(path / own / PAYEE_VALUES),
                              fix="the valuation was altered: query it again")
        return Run(path, manifest, holders, generations, samples, None, losses, valuation, vmanifest,
                   payee_values=by_payee, payees=payees)
    values = read(own + "values.npy", lambda p: np.load(p, mmap_mode="r", allow_pickle=False))  # paged in by chunk
    parts = _parts(path / own)
    for name, table in [("values.npy", values)] + [(n, t) for n, t in zip(PART_TABLES, parts) if t is not None]:
        width = REFERENCE_COLUMNS if name == "values_reference.npy" else len(generations)
        if table.dtype != np.float64 or table.shape != (len(samples), width):
            raise AttribError(f"{name} holds {table.dtype} {table.shape}, expected float64 "
                              f"({len(samples)}, {width})", file=str(path / own / name),
                              fix="the run was altered: train it again")
    return Run(path, manifest, holders, generations, samples, values, losses, valuation, vmanifest,
               shared=parts[0], reference=parts[1])


def open_rights(path: str | Path) -> Run:
    """A finished run's rights alone (holders, samples, ownership, documents), checked against its manifest:
    what maps a table over samples to payees, without reading any values."""
    path = finished(path)
    manifest = check_reads(path, RIGHTS_READS)
    holders = _read(path, "inputs/holders.csv", lambda p: pd.read_csv(p, dtype=str, keep_default_na=False))
    samples = _read(path, "samples.csv", lambda p: pd.read_csv(p, dtype={"doc_id": "category"}))
    return Run(path, manifest, holders, pd.DataFrame(), samples, None, pd.DataFrame())


def _parts(folder: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The shared parts and reference values of a run (or valuation) trained with reference texts; else None."""
    if not (folder / PART_TABLES[0]).is_file():
        return None, None
    return tuple(_read(folder, name, lambda p: np.load(p, mmap_mode="r", allow_pickle=False)) for name in PART_TABLES)


def _read(path: Path, name: str, loader):
    try:
        return loader(path / name)
    except (OSError, ValueError, KeyError, UnicodeDecodeError, EOFError) as exc:  # EOFError: an emptied .npy
        raise AttribError(f"{name} is missing or unreadable ({type(exc).__name__}): was the run altered?",
                          file=str(path / name), fix="run 'attrib verify' on it, or train it again") from None


def run_config(run_dir: Path):
    """The run's resolved config (``config.yaml``), as training used it."""
    from attribcli.config import load_config

    return _read(Path(run_dir), "config.yaml", load_config)


def load_model(run_dir: Path, config=None):
    """The run's fine-tuned model (LoRA adapters merged, as ``model.pt`` holds it), its tokenizer and the
    context its generations must fit, in eval mode on the CPU. The tokenizer is the config's; a base-weights
    style check refuses a tokenizer file changed since training."""
    import torch

    from attribcli.model.gpt import GPT, GPTConfig, load_base_weights
    from attribcli.model.tokenizer import load_tokenizer

    run_dir = Path(run_dir)
    config = config or run_config(run_dir)
    mc, source = config.model, str(run_dir / "config.yaml")
    if mc.kind == "hf":
        from attribcli.model.hf import load_hf

        model, tok = load_hf(mc.path, config_file=source)
        blob = _read(run_dir, "model.pt", lambda p: torch.load(p, map_location="cpu", weights_only=True))
        model.load_state_dict(blob["state_dict"])
        return model.eval(), tok, min(mc.context_length, model.context_length)
    tok = load_tokenizer(mc.tokenizer, config_file=source)
    model = GPT(GPTConfig(tok.vocab_size, mc.context_length, mc.n_layer, mc.n_head, mc.n_embd))
    load_base_weights(model, run_dir / "model.pt", tokenizer=tok.id, config_file=source)
    return model.eval(), tok, mc.context_length
