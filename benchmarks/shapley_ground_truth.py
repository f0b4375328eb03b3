"""Do in-run values rank training samples like values obtained by retraining?

    python benchmarks/shapley_ground_truth.py [--permutations 60] [--steps 20] [--lr 0.05] [--seed 0] [--png out.png]

A setup small enough to retrain hundreds of times on a CPU: the built-in GPT with one layer
(n_embd 32, 2 heads, context 32), N = 12 training sequences in 4 "styles" (3 each), 3 target
generations, each close to one of the first three styles (the fourth style has no target), and plain
full-batch SGD (no momentum, no weight decay) for ``--steps`` steps from a fixed initialisation, in
float64. The game: the utility of a subset S of the training samples is the reduction of a target's
loss after training on S alone, from the same initialisation, for the same steps and learning rate,
with loss ``Σ_{z∈S} l_z / N`` (each sample weighs what it weighs in the full run; U(∅) = 0).

- In-run: one run with ``tracked_step`` at order 1, one at order 2 (first + second-order terms) and one
  with the path rule (``path_step``, its default tolerance and nodes), the per-step values summed per
  (sample, target).
- Leave-one-out: ``U(all) − U(all \\ z)``, N retrainings.
- Monte Carlo permutation Shapley: ``--permutations`` random orders, the marginal contribution of each
  sample is U(prefix with it) − U(prefix without it), one retraining per prefix (N per permutation,
  repeated subsets are cached; no truncation). The standard error per value is std / √P over the
  permutations.

Spearman (ties averaged) and Pearson correlations over the N samples per target, and over all
(sample, target) pairs pooled. In-run values are exact first-order Shapley values of each *step's*
game (Wang et al., 2024); the retraining game differs because a subset's trajectory departs from
the full run's, which is what this measures. The first printed line compares U(all) with the sum of
the values (efficiency): where they part (lr 0.1 here: order-1 sums ~2.5x U(all)) the run has left
the regime the expansion describes, and the correlations drop with it.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from plotting import png_figure  # noqa: E402  (benchmarks/plotting.py)
from ranking import pearson, spearman  # noqa: E402  (benchmarks/ranking.py)

STYLES = {
    "animals": ["the cat sat on the mat.", "the dog lay on the rug.", "a cat and a dog sat."],
    "numbers": ["1 2 3 4 5 6 7 8 9 10", "2 4 6 8 10 12 14 16", "3 6 9 12 15 18 21"],
    "code": ["def f(x): return x+1", "def g(y): return y*2", "def h(z): return z-3"],
    "shout": ["HELLO WORLD!!! HEY!!!", "STOP THAT NOW!!! NO!!!", "WOW!!! BIG NEWS!!!"],
}
TARGETS = ["the cat lay on the rug.", "5 6 7 8 9 10 11 12", "def k(x): return x*3"]


def tokens(s: str) -> list[int]:
    return list(s.encode("utf-8"))


def main() -> None:
    from attribcli.config import TrainingConfig
    from attribcli.inrun.optim import attach_names, update_rule
    from attribcli.inrun.path import path_step
    from attribcli.inrun.step import tracked_step
    from attribcli.inrun.tracker import GhostTracker
    from attribcli.model.gpt import GPT, GPTConfig, sequence_losses
    from attribcli.training.steps import pad_batch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--permutations", type=int, default=60)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--png", default=None, help="scatter plot of in-run vs ground truth (needs matplotlib)")
    a = ap.parse_args()
    t0 = time.perf_counter()
    torch.manual_seed(a.seed)
    torch.set_num_threads(1)  # tiny ops: one thread is faster and steadier on a shared CPU
    init = GPT(GPTConfig(vocab_size=257, context_length=32, n_layer=1, n_head=2, n_embd=32)).double()
    train = pad_batch([(tokens(s), 1) for seqs in STYLES.values() for s in seqs], "cpu")  # every position scored
    target = pad_batch([(tokens(s), 1) for s in TARGETS], "cpu")
    N, M = train[0].shape[0], target[0].shape[0]
    tcfg = TrainingConfig(lr=a.lr, optimizer="sgd", momentum=0.0, weight_decay=0.0, batch_size=N)
    rule = update_rule(tcfg)

    def target_loss(model) -> np.ndarray:
        with torch.no_grad():
            return sequence_losses(model(target[0]), target[1], target[2]).numpy()

    base = target_loss(init)
    cache: dict[frozenset, np.ndarray] = {frozenset(): np.zeros(M)}
    counter = [0]

    def utility(subset) -> np.ndarray:
        """[M] reduction of each target's loss after training on ``subset`` alone."""
        key = frozenset(int(i) for i in subset)
        if key not in cache:
            model = copy.deepcopy(init)
            opt = torch.optim.SGD(model.parameters(), lr=a.lr)
            idx = torch.tensor(sorted(key))
            x, y, m = (t[idx] for t in train)
            for _ in range(a.steps):
                opt.zero_grad(set_to_none=True)
                (sequence_losses(model(x), y, m).sum() / N).backward()
                opt.step()
            cache[key] = base - target_loss(model)
            counter[0] += 1
        return cache[key]

    # -- in-run values ---------------------------------------------------------------------------
    inrun = {}
    for order in (1, 2, "path"):
        model = copy.deepcopy(init)
        opt = rule.make(model.parameters(), tcfg)
        attach_names(opt, model)
        tracker = GhostTracker(model)
        total, opened = np.zeros((N, M)), None
        for step in range(a.steps):
            if order == "path":  # each step closed by the next one's target pass; the last by its own
                done, opened = path_step(model, tracker, opt, rule, [train], target, losses=sequence_losses,
                                         opened=opened, close=step == a.steps - 1)
                total += sum(r.first for r in done)
                continue
            r = tracked_step(model, tracker, opt, rule, [train], target, order=order, losses=sequence_losses)
            total += r.first + (r.second if order == 2 else 0)
        tracker.close()
        inrun[order] = total
        if order == 1:
            u_tracked = base - target_loss(model)
    u_all = utility(range(N))
    t_inrun = time.perf_counter() - t0

    # -- leave-one-out -------------------------------------------------------------------------
    loo = np.stack([u_all - utility([j for j in range(N) if j != z]) for z in range(N)])

    # -- Monte Carlo permutation Shapley ---------------------------------------------------------
    rng = np.random.default_rng(a.seed)
    marg = np.zeros((a.permutations, N, M))
    for p in range(a.permutations):
        perm = rng.permutation(N)
        prev = cache[frozenset()]
        for k in range(N):
            cur = utility(perm[:k + 1])
            marg[p, perm[k]] = cur - prev
            prev = cur
        if (p + 1) % 10 == 0:
            print(f"permutation {p + 1}/{a.permutations} ({counter[0]} trainings, "
                  f"{time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    shap = marg.mean(0)
    se = marg.std(0, ddof=1) / np.sqrt(a.permutations) if a.permutations > 1 else np.full((N, M), np.nan)

    # -- report ---------------------------------------------------------------------------------
    print(f"GPT 1 layer, n_embd 32; N={N} samples x M={M} targets; full-batch SGD, {a.steps} steps, lr {a.lr}, "
          f"seed {a.seed}; {a.permutations} permutations; {counter[0]} trainings in "
          f"{time.perf_counter() - t0:.0f}s (in-run {t_inrun:.1f}s)")
    print(f"U(all) per target: {np.array2string(u_all, precision=4)}  (tracked run: "
          f"{np.array2string(u_tracked, precision=4)}); sum of order-1 values: "
          f"{np.array2string(inrun[1].sum(0), precision=4)}, order 2: {np.array2string(inrun[2].sum(0), precision=4)}, "
          f"path: {np.array2string(inrun['path'].sum(0), precision=4)}")
    cols = [(f"{name}~{gt_name}", key, gt) for gt_name, gt in (("LOO", loo), ("MC", shap))
            for name, key in (("o1", 1), ("o2", 2), ("path", "path"))]
    rows = [(f"{j}: {TARGETS[j][:22]}", np.s_[:, j]) for j in range(M)] + [("all (pooled)", np.s_[:, :])]
    for title, fn in (("Spearman", spearman), ("Pearson", pearson)):
        print(f"\n{title.ljust(26)}" + "".join(f"{c:>10s}" for c, _, _ in cols))
        for label, sl in rows:
            print(label.ljust(26) + "".join(f"{fn(inrun[o][sl].ravel(), gt[sl].ravel()):10.3f}" for _, o, gt in cols))
    print(f"\n{'MC Shapley':26s}{'mean SE':>10s}{'max SE':>10s}{'std of values':>15s}{'LOO~MC rho':>12s}")
    for label, sl in rows:
        print(label.ljust(26) + f"{se[sl].mean():10.2e}{se[sl].max():10.2e}{shap[sl].std():15.2e}"
              f"{spearman(loo[sl].ravel(), shap[sl].ravel()):12.3f}")

    with png_figure(a.png, ncols=2, title=f"In-run vs retraining, {a.steps} SGD steps, lr {a.lr}") as axes:
        if axes is None:
            return
        for ax, gt, name in ((axes[0], shap, "MC Shapley (retraining)"), (axes[1], loo, "leave-one-out (retraining)")):
            for j in range(M):
                ax.scatter(gt[:, j], inrun[1][:, j], marker="o", label=f"order 1, target {j}", color=f"C{j}")
                ax.scatter(gt[:, j], inrun[2][:, j], marker="x", label=f"order 2, target {j}", color=f"C{j}")
                ax.scatter(gt[:, j], inrun["path"][:, j], marker="^", label=f"path, target {j}", color=f"C{j}")
            if gt is shap:
                ax.errorbar(shap.ravel(), inrun[1].ravel(), xerr=se.ravel(), fmt="none", ecolor="grey", alpha=0.5)
            lo, hi = min(gt.min(), inrun[1].min()), max(gt.max(), inrun[1].max())
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
            ax.set_xlabel(name)
            ax.set_ylabel("in-run value")
        axes[0].legend(fontsize=7)


if __name__ == "__main__":
    main()
