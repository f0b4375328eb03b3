"""EleutherAI Bergson as a peer: projected gradient inner products, train x queries, for index_fidelity.

    python benchmarks/bergson_peer.py --model MODEL_DIR --train TRAIN.jsonl --queries QUERIES.jsonl \
        --out OUT_DIR [--projection-dim 16] [--seed 0] [--fp64]

Runs in the separate peers venv (below), never in the project's environment, and imports nothing
from attribcli. MODEL_DIR is a Hugging Face causal LM saved with ``save_pretrained`` (no tokenizer
needed). TRAIN.jsonl and QUERIES.jsonl hold one ``{"input_ids": [...], "labels": [...]}`` a line,
labels -100 where a position carries no loss; every sequence needs at least one label.

Writes OUT_DIR/scores.npy, float64 [n_train, n_queries]:

    scores[i, j] = < Proj grad L_i(w), Proj grad L_j(w) >,

and OUT_DIR/timing.json (index_seconds, query_seconds, projection_dim, bergson_version, notes).
OUT_DIR/bergson_index/ is Bergson's on-disk gradient store (replaced on each run).

What Bergson (2.5.1) computes here
----------------------------------
* Loss: L_i = mean cross-entropy over the positions with labels != -100, with the causal shift
  (labels[t] predicted from input_ids[:t]), i.e. HF's ``model(input_ids, labels=labels).loss``
  for that one sequence. Bergson's default is ``loss_reduction="sum"`` (no division by the token
  count); this script sets ``loss_reduction="mean"`` on both the index and the query side. The
  model runs in eval mode (no dropout), in float32 (``--fp64``: float64, gradients then stored as
  float64).
* Weights: Bergson hooks only ``nn.Linear`` / HF ``Conv1D`` (and nn.Conv*) modules under
  ``model.base_model``, weight matrices only (``include_bias=False``). For GPT-2 that is, per
  block, ``attn.c_attn``, ``attn.c_proj``, ``mlp.c_fc``, ``mlp.c_proj``; NOT the token or position
  embeddings (wte, wpe), the LayerNorms, any bias, nor ``lm_head`` (outside ``base_model``; tied
  to wte anyway). The inner product is over those matrices only: compare it with attrib's exact
  value restricted to the same weights (on a tiny random GPT-2, 2 layers x 32 wide, the
  Conv1D-weights-only inner products correlate only 0.72 with the all-parameter ones, and are
  ~7% of their size: the tied wte/lm_head dominates).
* Per-sample gradients are formed from the hooks' activations a and output gradients g of each
  module (G = sum_t g_t a_t^T), so batching is exact (right padding, labels -100 on padding).
* Projection (``--projection-dim p`` > 0): per module, double-sided, G -> L G R^T (p x p), with
  L [p, out] and R [p, in] Rademacher matrices scaled by 1/sqrt(p) ("jl"), generated
  deterministically from the module name and ``projection_seed = --seed``. The store holds
  p*p numbers per module (e.g. 8 modules x 256 for a 2-layer GPT-2 at p=16), NOT p in total.
  E[<L A R^T, L B R^T>] = <A, B>, so scores are unbiased estimates of the exact inner products.
  ``--projection-dim 0`` turns projection off: full per-module gradients, exact inner products.
* Normaliser / preconditioner: none. No Adam/Adafactor normaliser (no optimizer state given), no
  Hessian (``hessian_path`` unset), ``unit_norm=False`` in ``Attributor`` and
  ``unit_normalize=False`` in the build: raw inner products (Bergson's CLI ``query`` defaults to
  unit_norm, i.e. cosine; the Python ``Attributor`` does not).

API calls: ``bergson.GradientProcessor`` + ``bergson.IndexConfig`` + ``bergson.collect_gradients``
(writes the store to ``<run_path>.part``, moved to ``run_path`` as ``bergson build`` does), then
``bergson.Attributor(run_path, unit_norm=False)`` and, per query batch, ``Attributor.trace`` around a
forward/backward of Bergson's own loss function (``collector.fwd_bwd_factory``), ``k=None`` so every
training row is scored.

Install the peers venv (CPU torch only; bergson's metadata requires torchvision, torchaudio and
bitsandbytes, none of which it imports on this path, so it is installed with ``--no-deps`` next to
its real runtime dependencies, torch pinned by the constraints file):

    python -m venv /tmp/peers-venv
    /tmp/peers-venv/bin/pip install torch==2.13.0          # the CPU wheel (local on the dev machine)
    /tmp/peers-venv/bin/pip install -c benchmarks/peers-constraints.txt accelerate datasets jinja2 \
        "jaxtyping>=0.3.3" ml_dtypes natsort numpy scipy "peft>=0.17.0" petname pyarrow pyyaml \
        simple-parsing torchopt "transformers>=5.0" "huggingface-hub>=1.13.0"
    /tmp/peers-venv/bin/pip install --no-deps -c benchmarks/peers-constraints.txt bergson==2.5.1

(resolved: bergson 2.5.1, torch 2.13.0+cpu, transformers 5.24.0, peft 0.21.2, torchopt 0.7.3,
datasets 5.2.0; ``pip check`` then reports only the three unused missing requirements.)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open() as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            ids, labels = list(map(int, row["input_ids"])), list(map(int, row["labels"]))
            if len(ids) != len(labels):
                raise SystemExit(f"{path}:{n}: input_ids and labels differ in length")
            if not any(label != -100 for label in labels[1:]):
                raise SystemExit(f"{path}:{n}: no position carries a loss (labels[1:] all -100)")
            rows.append({"input_ids": ids, "labels": labels})
    if not rows:
        raise SystemExit(f"{path}: no sequences")
    return rows


def batches_by_tokens(lengths: list[int], token_budget: int) -> list[list[int]]:
    """Consecutive batches with max_len * count <= token_budget (at least one sequence each)."""
    out: list[list[int]] = []
    cur: list[int] = []
    cur_max = 0
    for i, n in enumerate(lengths):
        new_max = max(cur_max, n)
        if cur and new_max * (len(cur) + 1) > token_budget:
            out.append(cur)
            cur, new_max = [], n
        cur.append(i)
        cur_max = new_max
    if cur:
        out.append(cur)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--train", required=True, type=Path)
    ap.add_argument("--queries", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--projection-dim", type=int, default=16,
                    help="per-module p (p*p numbers per module); 0 = no projection")
    ap.add_argument("--seed", type=int, default=0, help="Bergson's projection_seed")
    ap.add_argument("--token-batch-size", type=int, default=2048,
                    help="max_len * sequences per forward/backward")
    ap.add_argument("--fp64", action="store_true", help="run the model and store gradients in float64")
    args = ap.parse_args(argv)

    import bergson
    from bergson import Attributor, GradientProcessor, IndexConfig, collect_gradients
    from bergson.collector.collector import fwd_bwd_factory
    from bergson.data import pad_and_tensor
    from datasets import Dataset
    from transformers import AutoModelForCausalLM

    torch.manual_seed(args.seed)
    dtype = torch.float64 if args.fp64 else torch.float32
    train, queries = read_jsonl(args.train), read_jsonl(args.queries)

    model = AutoModelForCausalLM.from_pretrained(str(args.model), dtype=dtype)
    model.to("cpu").eval()

    args.out.mkdir(parents=True, exist_ok=True)
    run_path = args.out / "bergson_index"
    for p in (run_path, Path(str(run_path) + ".part")):
        if p.exists():
            shutil.rmtree(p)

    cfg = IndexConfig(
        run_path=str(run_path),
        model=str(args.model),
        projection_dim=args.projection_dim,
        projection_seed=args.seed,
        loss_reduction="mean",
        include_bias=False,
        token_batch_size=args.token_batch_size,
    )
    processor = GradientProcessor(
        projection_dim=args.projection_dim or None,
        projection_type=cfg.projection_type,
        projection_scale=cfg.projection_scale,
        projection_seed=args.seed,
        include_bias=False,
    )
    ds = Dataset.from_dict({
        "input_ids": [r["input_ids"] for r in train],
        "labels": [r["labels"] for r in train],
        "length": [len(r["input_ids"]) for r in train],
    })

    # ---- index: per-sample (projected) training gradients, on disk
    t0 = time.perf_counter()
    cfg.partial_run_path.mkdir(parents=True, exist_ok=True)
    collect_gradients(model, ds, processor, cfg,
                      batches=batches_by_tokens(ds["length"][:], args.token_batch_size))
    shutil.move(str(cfg.partial_run_path), str(run_path))
    index_seconds = time.perf_counter() - t0

    # ---- queries: Attributor.trace, raw inner products against every training row
    t0 = time.perf_counter()
    attr = Attributor(str(run_path), device="cpu", dtype=dtype, unit_norm=False)
    fwd_bwd = fwd_bwd_factory(cfg)  # the index's loss: per-sequence mean CE, summed over the batch
    n_train = attr.N
    scores = np.zeros((n_train, len(queries)), dtype=np.float64)
    for qb in batches_by_tokens([len(q["input_ids"]) for q in queries], args.token_batch_size):
        x, y, _, _ = pad_and_tensor([queries[j]["input_ids"] for j in qb],
                                    labels=[queries[j]["labels"] for j in qb], device=model.device)
        with attr.trace(model.base_model, None) as result:
            fwd_bwd(model, x, y, {})
        vals = result.scores.double().cpu().numpy().reshape(len(qb), n_train)
        idx = result.indices.cpu().numpy().reshape(len(qb), n_train)
        for r, j in enumerate(qb):
            scores[idx[r], j] = vals[r]
    query_seconds = time.perf_counter() - t0
    if n_train != len(train):
        raise SystemExit(f"Bergson index has {n_train} rows, expected {len(train)}")

    with (run_path / "info.json").open() as f:
        grad_sizes = json.load(f)["grad_sizes"]
    modules = list(grad_sizes)
    p = args.projection_dim
    notes = (
        f"bergson {bergson.__version__}: per-sample gradients of the per-sequence MEAN cross-entropy "
        f"(loss_reduction='mean'; Bergson's default is 'sum') w.r.t. the weight matrices of the "
        f"{len(modules)} Linear/Conv1D modules under model.base_model ({', '.join(modules)}); no biases, "
        f"embeddings, LayerNorms or lm_head. "
        + (f"Per-module double-sided Rademacher projection G -> L G R^T to {p}x{p} (JL scale 1/sqrt(p), "
           f"projection_seed={args.seed}), {sum(grad_sizes.values())} numbers per sample in all; "
           if p else "No projection (full gradients, exact inner products); ")
        + "no normaliser, no Hessian preconditioner, no unit norm: raw inner products. "
        + f"Model dtype {str(dtype).removeprefix('torch.')}, eval mode, CPU."
    )
    np.save(args.out / "scores.npy", scores)
    timing = {
        "index_seconds": index_seconds,
        "query_seconds": query_seconds,
        "projection_dim": p,
        "bergson_version": bergson.__version__,
        "n_train": len(train),
        "n_queries": len(queries),
        "gradient_numbers_per_sample": sum(grad_sizes.values()),
        "modules": modules,
        "loss_reduction": "mean",
        "notes": notes,
    }
    (args.out / "timing.json").write_text(json.dumps(timing, indent=2) + "\n")
    print(json.dumps({k: timing[k] for k in ("index_seconds", "query_seconds", "projection_dim",
                                               "bergson_version")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
