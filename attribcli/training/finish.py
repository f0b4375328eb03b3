"""Phase 4 of a training run: write what it found (values, losses, samples, per-step tables, the
fine-tuned weights) and, last, the manifest that makes the run directory complete."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from attribcli.audit.manifest import method_description, write_manifest
from attribcli.files import atomic_torch_save, atomic_write_text
from attribcli.model.gpt import GPT, save_weights
from attribcli.model.lora import merge_lora
from attribcli.training import fidelity
from attribcli.training.layout import CHECKPOINT
from attribcli.training.prepare import Prepared
from attribcli.training.setup import csv_text, drop_leftovers
from attribcli.training.steps import target_batch, target_losses
from attribcli.training.tally import FOLDER as TALLY
from attribcli.training.tally import Tally


def final_losses(model, prep: Prepared, targets) -> tuple[np.ndarray, np.ndarray]:
    """The generations' losses under the trained weights (LoRA not yet merged), with and without the prompt."""
    M = len(prep.generations)  # the target batch's other rows are the reference texts
    return target_losses(model, targets)[:M], target_losses(model, target_batch(prep.generations, prep.device,
                                                                            with_prompt=False, tok=prep.tokenizer))


def write_valuation(folder, prep: Prepared, total: int, tally: Tally, loss_final: np.ndarray,
                    loss_no_prompt: np.ndarray) -> dict:
    """The value tables of one set of generations (a run's own, or a replay's): values.npy, losses.csv,
    steps.csv, target_steps.csv; returns the manifest's efficiency and fidelity summary."""
    gens = prep.generations
    order = prep.config.attribution.order
    first_sum, second_sum = tally.write_values(folder, order)
    value_sum = first_sum + second_sum
    carry = tally.total_carry()
    realised = tally.loss_base - loss_final
    explained = value_sum + carry
    path = prep.config.attribution.rule == "path"
    tr = pd.DataFrame(tally.target_rows, columns=["step", "generation", "loss_before", "predicted_order1",
                                                  "predicted_order2", "carry", "nodes"]
                      + (["shared"] if tally.parts else []))
    tr.insert(4, "predicted_reduction", tr["predicted_order1"] + tr["predicted_order2"])
    tr = tr.drop(columns=["predicted_order1", "predicted_order2"] if path else ["nodes"])  # path: one rule, no orders
    M = len(gens)
    predicted = (tr["predicted_reduction"] + tr["carry"]).to_numpy().reshape(total, M)
    per_step = fidelity.realised_per_step(tr["loss_before"].to_numpy().reshape(total, M), loss_final)
    step_corr, step_bad = fidelity.per_generation(predicted, per_step)
    steps = pd.DataFrame(tally.step_rows, columns=["step", "epoch", "lr", "train_loss", "value_abs"])
    faithful = fidelity.summary(predicted, per_step, steps["value_abs"].to_numpy(),
                                nodes=tr["nodes"].to_numpy().reshape(total, M) if path else None)
    losses = pd.DataFrame({
        "generation_id": [g.id for g in gens],
        "completion_tokens": [len(prep.tokenizer.encode(g.completion)) for g in gens],
        "loss_reference": math.log(prep.tokenizer.vocab_size),
        "loss_base": tally.loss_base, "loss_final": loss_final, "loss_final_no_prompt": loss_no_prompt,
        "value_sum": value_sum, **({} if path else {"value_sum_order1": first_sum, "value_sum_order2": second_sum}),
        **({"shared_sum": tr.groupby("generation")["shared"].sum().reindex(range(M), fill_value=0.0).to_numpy()}
           if tally.parts else {}),
        "carry_sum": carry, "realised_reduction": realised,
        "efficiency_gap": explained - realised,
        "relative_gap": (explained - realised) / np.where(realised == 0, np.nan, np.abs(realised)),
        "step_pearson": [np.nan if c is None else c for c in step_corr], "steps_misvalued": step_bad,
    })
    atomic_write_text(folder / "losses.csv", csv_text(losses))
    atomic_write_text(folder / "steps.csv", csv_text(steps))
    tr["realised_reduction"] = per_step.ravel()  # loss before this step minus loss before the next
    tr["generation"] = [gens[j].id for j in tr["generation"]]
    atomic_write_text(folder / "target_steps.csv", csv_text(tr))
    ok = realised != 0
    return {
        "generations": M,
        "efficiency": {
            "max_abs_relative_gap": float(np.nanmax(np.abs(losses["relative_gap"]))) if ok.any() else None,
            "total_value": float(value_sum.sum()), "total_carry": float(carry.sum()),
            "total_realised_reduction": float(realised.sum()),
        },
        "fidelity": faithful,
    }


def report_fidelity(faithful: dict, path: bool, log) -> None:
    log("fidelity: " + faithful["description"])
    if faithful["problems"]:
        log("warning: the values do not describe this training step by step (" + "; ".join(faithful["problems"])
            + "): payouts would rest on values that do not add up to what the steps did. "
            + ("Raise attribution.path_max_nodes or lower training.lr" if path else
               "Use attribution.rule: path, or lower training.lr")
            + "; with AdamW add warmup_steps; see README, Method: per-step fidelity")


def finish(part, prep: Prepared, model, total: int, tally: Tally, targets, rule, log=print, *,
           processes: int = 1, index=None) -> None:
    valued = None
    if prep.generations:
        valued = write_valuation(part, prep, total, tally, *final_losses(model, prep, targets))
    else:  # valued later by replays: the steps' training losses are what a replay checks itself against
        tally.close()
        steps = pd.DataFrame(tally.step_rows, columns=["step", "epoch", "lr", "train_loss", "value_abs"])
        atomic_write_text(part / "steps.csv", csv_text(steps))
    st = prep.samples
    samples = pd.DataFrame({"sample": np.arange(len(st)), "doc_id": [prep.documents[d].id for d in st.doc],
                            "chunk": st.chunk, "tokens": st.length - 1, "steps_trained": tally.seen})
    atomic_write_text(part / "samples.csv", csv_text(samples))
    if prep.lora:
        merge_lora(model)  # model.pt is the plain model: a base for the next run
    if isinstance(model, GPT):
        save_weights(model.cpu(), part / "model.pt", tokenizer=prep.tokenizer.id)
    else:
        atomic_torch_save({"format": "attrib-hf-state-v1", "state_dict": model.cpu().state_dict()}, part / "model.pt")
    summary = {
        "seed": prep.config.seed, "steps": total, "samples": len(prep.samples), "generations": 0,
        "device": prep.device.type, "processes": processes, "threads": torch.get_num_threads(),
        "token_cache": {"path": str(prep.token_cache.directory), "tokens_sha256": prep.token_cache.sha256,
                        "tokens": int(len(prep.token_cache.tokens))},
        **(valued or {}),
        **({"index": index.finish()} if index else {}),  # training/index.py: before the hashes are taken
    }
    write_manifest(part, inputs=prep.input_paths, input_hashes=prep.input_hashes, summary=summary,
                   method=method_description(rule, prep.config.attribution, prep.lora),
                   leaving=(CHECKPOINT, TALLY))
    drop_leftovers(part)  # complete: weights live in model.pt, not hashed twice
    if valued:
        report_fidelity(valued["fidelity"], prep.config.attribution.rule == "path", log)
    else:
        log("no generations named: value this run with 'attrib replay RUN --generations FILE --name NAME'")

