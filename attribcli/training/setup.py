"""Phase 2 of a training run: the run directory: refuse to overwrite, resume from a checkpoint, or
create ``RUN.partial`` and write the inputs as trained (documents, ownership, duplicates, holders,
generations)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from attribcli.audit.manifest import REPORTS
from attribcli.config import Config
from attribcli.data import duplicates
from attribcli.errors import AttribError
from attribcli.files import atomic_write_text, temporaries
from attribcli.rights.ownership import rights_rows
from attribcli.training import replace
from attribcli.training.layout import CHECKPOINT, MANIFEST
from attribcli.training.prepare import Prepared
from attribcli.training.tally import FOLDER as TALLY


def refuse_existing(final: Path, part: Path, resume: bool) -> None:
    """The run directories a run may not write over without ``--overwrite``; under ``--resume`` a finished
    run is reported complete, and an interrupted one beside it (an ``--overwrite`` killed) continued."""
    if final.exists() and not (resume and ((final / "manifest.json").is_file() or part.exists())):
        raise AttribError("run directory already exists", file=str(final), field="run_dir",
                          fix="choose another --run-dir, or pass --overwrite to replace that run")
    if part.exists() and not resume:
        raise AttribError("an interrupted run of this config exists", file=str(part), field="run_dir",
                          fix="continue it with --resume, or pass --overwrite to start over")


def require_batch_for(config: Config, processes: int) -> None:
    """Each process needs a sample of every global batch but the last (whose empty shards are padded)."""
    if config.training.batch_size < processes:
        raise AttribError(f"training.batch_size ({config.training.batch_size}) is smaller than the {processes} "
                          "processes", file=str(config.source), field="training.batch_size",
                          fix=f"use a batch of at least {processes} samples, or fewer processes")


def refusals(final: Path, part: Path, resume: bool, overwrite: bool) -> None:
    """What ``open_run_dir`` refuses, checked without changing anything (before the run's lock is taken)."""
    if replace.pending(final):
        return  # a replacement killed half-way: open_run_dir completes it, then looks again
    if overwrite:
        if final.exists():
            replace.require_run(final)
        if part.exists():
            replace.require_partial(part)
    else:
        refuse_existing(final, part, resume)


def open_run_dir(final: Path, part: Path, prep: Prepared, resume: bool, overwrite: bool, log):
    """The checkpoint to resume from, None to start afresh, or "done" when the run is already complete.
    Call with the run's lock held (loop.train).

    ``--overwrite`` never deletes the finished run at ``final``: the new run is built in ``part`` and swapped
    in when complete (replace.py); an interrupted run in ``part`` is discarded. Either must be attrib's."""
    replace.complete(final)  # a replacement killed half-way is completed first
    refusals(final, part, resume, overwrite)
    if overwrite and part.exists():
        log(f"removing the interrupted run {part} (--overwrite)")
        shutil.rmtree(part)
    if part.exists():  # resuming (beside a finished run: an --overwrite that was killed)
        if (part / MANIFEST).is_file():  # complete, killed before its rename: only the leftovers and rename
            drop_leftovers(part)
            replace.swap_in(part, final, log)
            log(f"run already complete: {final}")
            return "done"
        drop_temporaries(part)  # half-written files of the kill: the resume writes them again
        if (part / CHECKPOINT).is_file():
            state = _load_checkpoint(part, prep)
            log(f"resuming {part} from step {state['step']}")
            return state
        replace.require_partial(part)
        shutil.rmtree(part)
        return None
    if final.exists() and not overwrite:  # complete, and resuming: nothing to do
        log(f"run already complete: {final}")
        return "done"
    return None


def write_inputs(part: Path, prep: Prepared) -> None:
    cfg = prep.config
    part.mkdir(parents=True)
    atomic_write_text(part / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    per_doc = np.bincount(prep.samples.doc, minlength=len(prep.documents))
    counts = {d.id: int(c) for d, c in zip(prep.documents, per_doc)}
    decisions = {dec.id: dec for dec in prep.licensing.decisions}
    docs = [json.dumps({"id": d.id, "holders": [{"id": h, "share": s} for h, s in d.holders],
                        "license": d.license, "source": d.source, "opt_out": d.opt_out,
                        "use": decisions[d.id].cls.use, "attribution": decisions[d.id].cls.attribution,
                        "share_alike": decisions[d.id].cls.share_alike,
                        "public_domain": decisions[d.id].cls.public_domain,
                        "trained": decisions[d.id].train, "pay_to": decisions[d.id].pay_to,
                        "reason": decisions[d.id].reason,
                        "n_samples": counts.get(d.id, 0), "text_sha256": d.text_sha256}
                       | ({"duplicate_of": prep.duplicate_of[d.id]} if d.id in prep.duplicate_of else {}),
                       ensure_ascii=False)
            for d in prep.documents]
    atomic_write_text(part / "inputs/documents.jsonl", "\n".join(docs) + "\n")
    rows = rights_rows((d.id, list(d.holders), decisions[d.id].train, decisions[d.id].pay_to,
                        prep.duplicate_of.get(d.id)) for d in prep.documents)
    atomic_write_text(part / "inputs/ownership.csv", csv_text(pd.DataFrame(rows, columns=["doc_id", "holder_id",
                                                                                          "share"])))
    atomic_write_text(part / "inputs/duplicates.csv",
                      duplicates.report_csv(prep.duplicates, prep.documents, prep.licensing))
    shutil.copyfile(cfg.data.holders, part / "inputs/holders.csv")
    if prep.generations:
        write_generations(part / "inputs/generations.jsonl", prep.generations)
    if prep.reference:
        write_generations(part / "inputs/reference.jsonl", prep.reference)


def write_generations(path: Path, generations) -> None:
    gens = [json.dumps({"id": g.id, "prompt": g.prompt, "completion": g.completion, "revenue": g.revenue},
                       ensure_ascii=False) for g in generations]
    atomic_write_text(path, "\n".join(gens) + "\n")


def read_checkpoint(path: Path, *, needs: tuple[str, ...] = ("step",),
                    fix: str = "start over: pass --overwrite (the interrupted run is discarded), or restore the file"
                    ) -> dict:
    """A checkpoint attrib wrote, or one line saying it cannot be resumed from (truncated by a full disk, or
    not attrib's): ``torch.load`` raises a different error for each way a file can be damaged."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 (EOFError, RuntimeError, UnpicklingError, struct.error, ...)
        state = exc
    if not isinstance(state, dict) or not all(k in state for k in needs):
        raise AttribError("the checkpoint is damaged or not attrib's: it cannot be resumed from", file=str(path),
                          fix=fix)
    return state


def _load_checkpoint(part: Path, prep: Prepared) -> dict:
    state = read_checkpoint(part / CHECKPOINT, needs=("step", "input_hashes"))
    if not isinstance(state["input_hashes"], dict) or state["input_hashes"] != prep.input_hashes:
        recorded = state["input_hashes"] if isinstance(state["input_hashes"], dict) else {}
        changed = sorted(k for k in prep.input_hashes if recorded.get(k) != prep.input_hashes[k]) or ["checkpoint"]
        raise AttribError(f"inputs changed since the interrupted run started: {', '.join(changed)}",
                          file=str(part), field=changed[0],
                          fix="restore the original files, or delete the .partial directory to start over")
    return state


def csv_text(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, lineterminator="\n")


def drop_leftovers(part: Path) -> None:
    """What a complete run no longer needs once its manifest is written: the checkpoint, the tally, and the
    temporary files of atomic writes a kill interrupted. Safe to repeat (a resume after a kill here)."""
    (part / CHECKPOINT).unlink(missing_ok=True)
    shutil.rmtree(part / TALLY, ignore_errors=True)
    drop_temporaries(part)


def drop_temporaries(folder: Path) -> None:
    """The ``.NAME.XXXXXXXX.tmp`` files ``files.atomic_write_bytes`` leaves when killed before its rename,
    under a folder only this run writes (its ``.partial``), never under ``reports/``."""
    for p in temporaries(folder, recursive=True):
        if REPORTS not in p.relative_to(folder).parts:
            p.unlink(missing_ok=True)
