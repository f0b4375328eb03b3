"""``attrib query RUN --generations FILE --name NAME``: value generations from the run's gradient index.

No step is retaken and no training sample is read again: per reference point j of the index the generations
run one forward and backward pass at the point's weights (batched), their gradients are projected as the
samples' were (scaled first by the generation's side of AdamW's preconditioner there: index.py), and the
values are one product against the index, ``values[z, v] = Σ_j <S_j[z], G_j[v]>``, taken tile by tile (a
block of samples against a block of generations), so memory stays bounded whatever the corpus and the number of
generations. The result is a valuation in the replay's contract (``RUN/valuations/NAME``: generations.jsonl,
values.npy, losses.csv, manifest.json) marked approximate, so value, payout and verify read it unchanged.

losses.csv holds the generations' losses under the base and the final weights (so the stage split and
the efficiency check work as for a replay); the index estimates the samples' values only, so the carry
(momentum, weight decay) is not estimated and ``carry_sum`` is empty.

Every query measures its own error where it can: when the run was trained with generations, their exact
values are in the run, so the index values them too (in the same passes) and the manifest's ``check`` says how
far apart the two are (Spearman over the trained samples, value sums); the statement quotes it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from numpy.lib.format import open_memmap

from attribcli.audit.manifest import method_description, output_hashes
from attribcli.data.generations import load_generations
from attribcli.errors import AttribError
from attribcli.files import atomic_write_text, locked, sha256_file, sha256_path
from attribcli.inrun.optim import update_rule
from attribcli.inrun.projection import Projector, by_parameter
from attribcli.inrun.step import autocast_context, target_pass
from attribcli.inrun.tracker import GhostTracker
from attribcli.model.gpt import sequence_losses
from attribcli.posttrain.aggregate import group_sums
from attribcli.posttrain.payees import payee_pairs
from attribcli.posttrain.replay import plan, refuse_existing
from attribcli.posttrain.rundir import MANIFEST, PAYEE_VALUES, finished, load_model, open_rights
from attribcli.training.index import FOLDER, point_file, reference_file, scale_file
from attribcli.training.setup import csv_text, write_generations
from attribcli.training.steps import target_batch, target_losses

TILE_BYTES = 64 << 20   # index rows read per tile (all segments together)
GENERATION_TILE = 1024  # generations per tile of the product
GRADIENT_CHUNK = 16     # generations per backward pass, unless attribution.target_chunk says otherwise


def require_index(run: Path) -> dict:
    """The run manifest's index summary, or the one-line error saying how to get one."""
    manifest = json.loads((finished(run) / MANIFEST).read_text(encoding="utf-8"))
    if "index" not in manifest:
        raise AttribError("the run has no gradient index to query", file=str(run / MANIFEST), field="attribution.index",
                          fix="train with attribution.index: {dim: 2048, segments: 4} in the config, or value the "
                              "generations exactly with 'attrib replay'")
    if "points" not in manifest["index"]:
        raise AttribError("the run's gradient index is in an earlier format (constant segments)",
                          file=str(run / MANIFEST), field="index", fix="train the run again to query it")
    return manifest["index"]


def query(run: Path, generations: Path, name: str, *, per: str = "sample", log=print) -> Path:
    """``per="sample"``: a ``[samples × generations]`` valuation; ``"payee"``: ``[generations × payees]`` from the
    index's rows summed per payee first (``payee_products``), so no table over samples is ever built."""
    run = Path(run)
    info = require_index(run)
    prep, manifest, _, out, part = plan(run, generations, name, resume=True, tokens=False)
    with locked(out, field="--name", wait=False):  # one query or replay of a NAME at a time
        refuse_existing(out, part, name, True)  # again, now that no other command can change it
        return _query(run, info, prep, manifest, out, part, generations, per, log)


def _query(run: Path, info: dict, prep, manifest: dict, out: Path, part: Path, generations: Path, per: str,
           log) -> Path:
    shutil.rmtree(part, ignore_errors=True)  # an interrupted query is cheap to start over
    part.mkdir(parents=True)
    known = _known(run, prep)
    gens = prep.generations + known
    K, M, n = len(info["points"]), len(prep.generations), manifest["samples"]
    started = time.perf_counter()
    loss_base, loss_final, loss_no_prompt = generation_losses(run, prep)  # before the model leaves the base
    grads = generation_gradients(run, info, prep, gens, part)
    log(f"{len(gens)} generations' gradients at {K} reference points in {time.perf_counter() - started:.1f}s")
    tic = time.perf_counter()
    folder = part / "out"
    folder.mkdir()
    if per == "payee":
        pairs = payee_pairs(open_rights(run))
        values = payee_products(run, info, pairs, grads, folder / PAYEE_VALUES)
        check = payee_check(run, values, M, [g.id for g in known], pairs) if known else None
        value_sum = values[:M].sum(1)  # the query's own rows
        if known:
            _keep_rows(folder / PAYEE_VALUES, values, M)
        extra = {"per": "payee", "payees": pairs.order}
        what = f"{M} generations x {len(pairs.order)} payees"
    else:
        values = open_memmap(folder / "values.npy", mode="w+", dtype=np.float64, shape=(n, len(gens)))
        products(index_tables(run, K), grads,
                 lambda rows, cols, block, out=values: out.__setitem__((rows, cols), block))
        values.flush()
        check = index_check(run, values, M, [g.id for g in known]) if known else None
        del values
        if known:  # the query's own columns only
            _keep_columns(folder / "values.npy", M)
        value_sum = _column_sums(np.load(folder / "values.npy", mmap_mode="r"))
        extra = {}
        what = f"{n} samples x {M} generations"
    del grads
    if check:
        log(f"index against the exact values of the run's {len(known)} training-time generations: "
            + ", ".join(f"{k} {v:.3f}" for k, v in check.items() if isinstance(v, float)))
    log(f"{what} from the index in {time.perf_counter() - tic:.1f}s")
    gens = prep.generations
    write_generations(folder / "generations.jsonl", gens)
    realised = loss_base - loss_final
    gap = value_sum - realised
    losses = pd.DataFrame({
        "generation_id": [g.id for g in gens],
        "completion_tokens": [len(prep.tokenizer.encode(g.completion)) for g in gens],
        "loss_reference": math.log(prep.tokenizer.vocab_size), "loss_base": loss_base, "loss_final": loss_final,
        "loss_final_no_prompt": loss_no_prompt, "value_sum": value_sum, "carry_sum": np.nan,
        "realised_reduction": realised, "efficiency_gap": gap,
        "relative_gap": gap / np.where(realised == 0, np.nan, np.abs(realised)),
    })
    atomic_write_text(folder / "losses.csv", csv_text(losses))
    g = prep.config.data.generations
    rule = update_rule(prep.config.training)
    ok = realised != 0
    body = {
        "format": "attrib-valuation-v1", "name": out.name, "kind": "index-query", "approximate": True,
        "run_manifest_sha256": sha256_file(run / MANIFEST),
        "generations_input": {"path": str(g), "sha256": sha256_path(g)},
        "outputs": output_hashes(folder),
        "method": method_description(rule, prep.config.attribution, prep.lora) | {
            "index": "values[z, v] = sum over reference points j of <S_j[z], Proj(r_j * grad l_v(w_j))>: the "
                     "samples' projected shares of the updates between the neighbouring points, weighted by "
                     "linear interpolation (AdamW: the rank-one part of each step's preconditioner on the "
                     "sample's side, the rest r_j at the point on the generation's), against the generation's "
                     "projected gradient at the point's weights w_j; approximates the run's first-order values; "
                     "the carry is not estimated"
                     + ("; per payee, the samples' rows are summed by ownership share before the product"
                        if per == "payee" else "")},
        "index": info,
        "check": check,
        "generations": M,
        "efficiency": {
            "max_abs_relative_gap": float(np.nanmax(np.abs(losses["relative_gap"]))) if ok.any() else None,
            "total_value": float(value_sum.sum()), "total_carry": None,
            "total_realised_reduction": float(realised.sum()),
        },
        **extra,
    }
    atomic_write_text(folder / MANIFEST, json.dumps(body, indent=2, sort_keys=True) + "\n")
    os.replace(folder, out)
    shutil.rmtree(part)
    return out


def _keep_columns(path: Path, M: int) -> None:
    """Drop the training-time generations' columns (the check's) from a ``[samples × all]`` table."""
    values = np.load(path, mmap_mode="r")
    kept = open_memmap(path.with_name("kept.npy"), mode="w+", dtype=np.float64, shape=(len(values), M))
    step = max(1, TILE_BYTES // max(1, 8 * values.shape[1]))
    for lo in range(0, len(values), step):
        kept[lo:lo + step] = values[lo:lo + step, :M]
    kept.flush()
    del values, kept
    os.replace(path.with_name("kept.npy"), path)


def _keep_rows(path: Path, values: np.ndarray, M: int) -> None:
    """Drop the training-time generations' rows (the check's) from a ``[all × payees]`` table."""
    kept = open_memmap(path.with_name("kept.npy"), mode="w+", dtype=np.float64, shape=(M, values.shape[1]))
    for lo in range(0, M, GENERATION_TILE):
        hi = min(M, lo + GENERATION_TILE)
        kept[lo:hi] = values[lo:hi]
    kept.flush()
    del kept
    os.replace(path.with_name("kept.npy"), path)


def payee_products(run: Path, info: dict, pairs, grads: list[np.ndarray], path: Path) -> np.ndarray:
    """``[generations × payees]`` at ``path`` (memory-mapped): ``Σ_j (Σ_z share · S_j[z]) · G_j[v]``, the index's
    rows summed per payee before the product (``[payees × dim]`` per point), a tile of generations at a time."""
    by_payee = []
    for k in range(len(info["points"])):
        table = np.load(run / point_file(k), mmap_mode="r")
        scale = run / scale_file(k)
        weights = pairs.shares * np.load(scale)[pairs.rows] if scale.is_file() else pairs.shares
        by_payee.append(group_sums(table, pairs.rows, pairs.payees, weights, len(pairs.order)))  # [P, dim]
    M, P = grads[0].shape[0], len(pairs.order)
    values = open_memmap(path, mode="w+", dtype=np.float64, shape=(M, P))
    for lo in range(0, M, GENERATION_TILE):
        hi = min(M, lo + GENERATION_TILE)
        values[lo:hi] = sum(np.asarray(G[lo:hi], dtype=np.float64) @ S.T for G, S in zip(grads, by_payee))
    values.flush()
    return values


def payee_check(run: Path, approx: np.ndarray, first: int, known: list[str], pairs) -> dict | None:
    """How far the index is from exact per payee, on the generations whose exact values the run holds
    (``approx``'s rows from ``first`` on): per generation the Spearman correlation over payees, the ratio of the
    value sums and the total variation between the two payee shares of positive value (what moves money)."""
    got = _exact_columns(run, known)
    if got is None or len(pairs.order) < 2:
        return None
    exact, cols = got
    E = group_sums(np.ascontiguousarray(exact[:, cols]), pairs.rows, pairs.payees, pairs.shares, len(pairs.order)).T
    A = np.asarray(approx[first:first + len(known)])
    rho, ratio, tv = [], [], []
    for e, a in zip(E, A):
        rho.append(float(pd.Series(e).rank().corr(pd.Series(a).rank())))
        ratio.append(float(a.sum() / e.sum()) if e.sum() else float("nan"))
        ep, ap = np.maximum(e, 0), np.maximum(a, 0)
        if ep.sum() and ap.sum():
            tv.append(float(0.5 * np.abs(ep / ep.sum() - ap / ap.sum()).sum()))
    return {"generations": len(known), "spearman_median": float(np.nanmedian(rho)),
            "spearman_min": float(np.nanmin(rho)), "value_sum_ratio_median": float(np.nanmedian(ratio)),
            "share_tv_median": float(np.median(tv)) if tv else None,
            "what": "the index per payee against the exact values of the run's training-time generations, summed "
                    "per payee (Spearman over payees; total variation between the payee shares of positive value)"}


def generation_gradients(run: Path, info: dict, prep, gens: list, folder: Path) -> list[np.ndarray]:
    """``[generations × dim]`` per reference point of the index: each generation's projected gradient at the
    point's weights (scaled by the generation's side of AdamW's preconditioner there), memory-mapped in
    ``folder/gradients-J.npy``. The model is left at the last point's weights."""
    model, dev = prep.model, prep.device
    M = len(gens)
    chunk = prep.config.attribution.target_chunk or GRADIENT_CHUNK
    tracker = GhostTracker(model)
    projector = Projector.load(tracker, torch.load(run / FOLDER / "projection.pt", weights_only=True))
    amp = autocast_context(dev.type, torch.bfloat16 if prep.config.training.precision == "bf16" else None)
    grads = []
    try:
        for k in range(len(info["points"])):
            ref = torch.load(run / reference_file(k), map_location=dev, weights_only=True)
            model.load_state_dict(ref["model"])
            table = open_memmap(folder / f"gradients-{k}.npy", mode="w+", dtype=np.float32,
                                shape=(M, projector.dim))
            for lo in range(0, M, chunk):
                batch = target_batch(gens[lo:lo + chunk], dev, tok=prep.tokenizer)
                target_pass(model, tracker, batch, losses=sequence_losses, amp=amp)
                table[lo:lo + chunk] = projected(tracker, projector, ref["generation_scale"]).float().cpu().numpy()
                tracker.clear()
            table.flush()
            grads.append(np.load(folder / f"gradients-{k}.npy", mmap_mode="r"))
    finally:
        tracker.close()
    return grads


def _known(run: Path, prep) -> list:
    """The run's training-time generations (their exact values are the run's own ``values.npy``), not already
    among the query's; [] when it was trained without any."""
    path = run / "inputs/generations.jsonl"
    if not path.is_file() or not path.read_text(encoding="utf-8").strip():
        return []
    asked = {g.id for g in prep.generations}
    return [g for g in load_generations(path, context_length=prep.config.model.context_length,
                                        currency=prep.config.payout.currency, tokenizer=prep.tokenizer)
            if g.id not in asked]


def _exact_columns(run: Path, known: list[str]) -> tuple[np.ndarray, list[int]] | None:
    """The run's exact value table (memory-mapped) and the columns of the generations ``known`` in it; None when
    the table does not hold the run's generations."""
    exact = np.load(run / "values.npy", mmap_mode="r")
    ids = pd.read_json(run / "inputs/generations.jsonl", lines=True, dtype=False)["id"].astype(str).tolist()
    return (exact, [ids.index(g) for g in known]) if exact.shape[1] == len(ids) else None


def index_check(run: Path, approx: np.ndarray, first: int, known: list[str]) -> dict | None:
    """How far the index is from exact on generations whose exact values the run holds (``approx``'s columns
    from ``first`` on, read one at a time): per generation the Spearman correlation over the trained samples
    and the ratio of the value sums."""
    got = _exact_columns(run, known)
    trained = pd.read_csv(run / "samples.csv", usecols=["steps_trained"])["steps_trained"].to_numpy() > 0
    if got is None or trained.sum() < 2:
        return None
    exact, cols = got
    rho, ratio = [], []
    for j, col in enumerate(cols):
        e, a = np.asarray(exact[:, col])[trained], np.asarray(approx[:, first + j])[trained]
        rho.append(float(pd.Series(e).rank().corr(pd.Series(a).rank())))
        ratio.append(float(a.sum() / e.sum()) if e.sum() else float("nan"))
    return {"generations": len(known), "spearman_median": float(np.nanmedian(rho)),
            "spearman_min": float(np.nanmin(rho)),
            "value_sum_ratio_median": float(np.nanmedian(ratio)),
            "what": "the index against the exact values of the run's training-time generations"}


def projected(tracker: GhostTracker, projector: Projector, scale: dict | None) -> torch.Tensor:
    """``[m, dim]`` the captured targets' projected gradients, scaled per element first when there is a scale."""
    if scale is None:
        return projector.captured(tracker.captured("target"))
    grads = by_parameter(tracker, tracker.target_grads())
    return projector.dense({nm: scale[nm].to(g.dtype) * g for nm, g in grads.items()})


def index_tables(run: Path, K: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(rows, row scales or None) of every segment, memory-mapped."""
    out = []
    for k in range(K):
        scale = run / scale_file(k)
        out.append((np.load(run / point_file(k), mmap_mode="r"),
                    np.load(scale) if scale.is_file() else None))
    return out


def products(tables: list[tuple[np.ndarray, np.ndarray | None]], grads: list[np.ndarray], sink, *,
             tile_bytes: int = TILE_BYTES, generation_tile: int = GENERATION_TILE) -> None:
    """``sink(rows, cols, block)`` for every tile of ``Σ_k S_k G_kᵀ`` (float32 products, summed over the
    segments in float64): a tile of index rows from every segment, against every tile of generations."""
    n, dim = tables[0][0].shape
    M = grads[0].shape[0]
    step = max(1, tile_bytes // max(1, 4 * dim * len(tables)))
    for lo in range(0, n, step):
        rows = slice(lo, min(n, lo + step))
        S = []
        for table, scale in tables:
            block = torch.from_numpy(np.array(table[rows], dtype=np.float32))
            S.append(block if scale is None else block * torch.from_numpy(scale[rows])[:, None])
        for c in range(0, M, generation_tile):
            cols = slice(c, min(M, c + generation_tile))
            total = None
            for Sk, G in zip(S, grads):
                part = (Sk @ torch.from_numpy(np.array(G[cols])).T).double()
                total = part if total is None else total + part
            sink(rows, cols, total.numpy())


def _column_sums(values: np.ndarray) -> np.ndarray:
    out = np.zeros(values.shape[1])
    step = max(1, TILE_BYTES // max(1, 8 * values.shape[1]))
    for lo in range(0, len(values), step):
        out += np.asarray(values[lo:lo + step]).sum(0)
    return out


def generation_losses(run: Path, prep) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The query's generations' losses under the base weights (``prep.model``, still at them) and the run's
    final weights, with and without the prompt: the stage split's measures."""
    chunk = prep.config.attribution.target_chunk or GRADIENT_CHUNK
    final, _, _ = load_model(run, prep.config)
    final = final.to(prep.device)
    return (_losses(prep.model, prep, chunk), _losses(final, prep, chunk),
            _losses(final, prep, chunk, with_prompt=False))


def _losses(model, prep, chunk: int, *, with_prompt: bool = True) -> np.ndarray:
    gens = prep.generations
    return np.concatenate([target_losses(model, target_batch(gens[lo:lo + chunk], prep.device, tok=prep.tokenizer,
                                                             with_prompt=with_prompt))
                           for lo in range(0, len(gens), chunk)]) if gens else np.zeros(0)
