"""attrib next to other ways of computing the same in-run, first-order data value, on one small run.

    python benchmarks/peers.py [--steps 8] [--batch 8] [--lr 0.05] [--seed 0] [--repeat 3] [--png out.png]

The quantity, for every training sample z and target v, summed over the SGD steps t whose batch B_t
holds z (the first-order In-Run Data Shapley value of plain SGD, Wang et al. 2024; also TracIn's
"ideal" form, Pruthi et al. 2020, with the checkpoints taken at every step):

    phi[z, v] = sum_t  lr * <grad(l_z / B)(w_t), grad l_v(w_t)>,   w_t = the weights before step t.

Computed four ways on the same model, data, batches and steps (float32, fixed seed):

1. attrib: ``tracked_step`` (order 1, plain SGD), during training, per-sample gradients never
   materialized;
2. torch.func, the direct way: during training, at each step, per-sample gradients of the batch and
   of the targets by ``vmap(grad(...))`` over ``functional_call``, flattened and dotted, times lr/B;
3. Captum ``TracInCP`` (captum.influence), after training, over the checkpoints saved before every
   step, the checkpoint loader returning lr/B as the checkpoint's learning rate. One TracInCP per step
   whose training set is that step's batch: TracInCP sums every checkpoint over every training
   sample, but a sample only moves the weights at the steps whose batch holds it;
4. dattri Grad-Dot, after training, at each step's weights, with weight lr/B, summed over steps.
   dattri 0.3.0 has no ``GradDotAttributor``: its ``TracInAttributor`` docstring defines Grad-Dot as
   ``TracInAttributor(weight_list=ones, normalized_grad=False)``, which is used (with lr/B as the
   weight). dattri 0.3.0 randomly projects gradients to 512 dimensions even when no projector is
   asked for; the exact row switches that off (``projector_kwargs = None`` after construction), and a
   second row shows the default (projected) result.

Times (best of --repeat runs, each run from the same initial weights): attrib and torch.func include the
training they ride on (forward, backward, step); Captum and dattri are post hoc and their times exclude
the plain SGD run that wrote their checkpoints (shown as its own row). "x attrib" is the row's time over
attrib's. Agreement with attrib is over all samples x targets: Pearson, Spearman, and max |peer -
attrib| / max |attrib|.

Peers that are not importable are reported as not installed and skipped, so the script runs in the
project's own environment too (attrib vs torch.func only). Install the peers ONLY in a separate venv,
never in the project's environment, and never with CUDA torch or torchvision:

    python -m venv /tmp/peers-venv
    /tmp/peers-venv/bin/pip install torch==2.13.0          # the CPU wheel (local on the dev machine)
    /tmp/peers-venv/bin/pip install -c benchmarks/peers-constraints.txt -r benchmarks/peers-requirements.txt
    /tmp/peers-venv/bin/pip install -e . --no-deps click numpy pandas pyyaml rich
    /tmp/peers-venv/bin/python benchmarks/peers.py

(captum 0.9.0 and dattri 0.3.0 resolved next to torch 2.13.0+cpu without torchvision.)
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

warnings.filterwarnings("ignore", message=".*per-example.*loss function")  # Captum: yes, it is one
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from plotting import png_figure  # noqa: E402  (benchmarks/plotting.py)
from ranking import pearson, spearman  # noqa: E402  (benchmarks/ranking.py)

NOT_INSTALLED = "not installed (see benchmarks/peers-requirements.txt)"
WORDS = ("the cat sat on a mat and the dog ran to the park while birds sang in old green trees "
         "near a quiet river under grey clouds").split()


def texts(seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)

    def sentence() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 8))) + "."

    return [sentence() for _ in range(32)], [sentence() for _ in range(4)]


def encode(strings: list[str], width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and next-token labels, all right-padded to one width; label -100 where not scored."""
    from attribcli.model.tokenizer import ByteTokenizer

    tok = ByteTokenizer()
    x = torch.zeros(len(strings), width, dtype=torch.long)
    y = torch.full((len(strings), width), -100, dtype=torch.long)
    for i, s in enumerate(strings):
        t = [tok.bos_id] + tok.encode(s)
        x[i, :len(t) - 1] = torch.tensor(t[:-1])
        y[i, :len(t) - 1] = torch.tensor(t[1:])
    return x, y


def seq_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sequence mean next-token cross-entropy over scored positions (= attrib's sequence_losses)."""
    m = (y >= 0).to(logits.dtype)
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.clamp_min(0).reshape(-1),
                          reduction="none").view(y.shape)
    return (nll * m).sum(-1) / m.sum(-1).clamp_min(1)


def as_triple(x: torch.Tensor, y: torch.Tensor):
    return x, y.clamp_min(0), y >= 0


def run_attrib(init, cfg, data, order, targets, lr):
    from attribcli.config import TrainingConfig
    from attribcli.inrun.optim import attach_names, update_rule
    from attribcli.inrun.step import tracked_step
    from attribcli.inrun.tracker import GhostTracker
    from attribcli.model.gpt import GPT, sequence_losses

    model = GPT(cfg)
    model.load_state_dict(init)
    rule = update_rule(TrainingConfig(lr=lr, optimizer="sgd"))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    attach_names(opt, model)
    tracker = GhostTracker(model)
    tv = as_triple(*targets)
    phi = np.zeros((data[0].shape[0], targets[0].shape[0]))
    for idx in order:
        res = tracked_step(model, tracker, opt, rule, [as_triple(data[0][idx], data[1][idx])], tv, order=1,
                           losses=sequence_losses)
        phi[idx] += res.first
    tracker.close()
    return phi


def run_plain(init, cfg, data, order, lr):
    """Plain SGD, keeping the weights before every step (the peers' checkpoints)."""
    from attribcli.model.gpt import GPT

    model = GPT(cfg)
    model.load_state_dict(init)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    ckpts = []
    for idx in order:
        ckpts.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        opt.zero_grad(set_to_none=True)
        seq_loss(model(data[0][idx]), data[1][idx]).mean().backward()
        opt.step()
    return ckpts


def run_torch_func(init, cfg, data, order, targets, lr):
    from torch.func import functional_call, grad, vmap

    from attribcli.model.gpt import GPT

    model = GPT(cfg)
    model.load_state_dict(init)
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def one_loss(params, x, y):
        return seq_loss(functional_call(model, params, (x[None],)), y[None])[0]

    per_sample = vmap(grad(one_loss), in_dims=(None, 0, 0))

    def flat(g: dict) -> torch.Tensor:
        return torch.cat([t.reshape(t.shape[0], -1) for t in g.values()], dim=1)

    phi = np.zeros((data[0].shape[0], targets[0].shape[0]))
    for idx in order:
        params = {k: p.detach() for k, p in model.named_parameters()}
        gz = flat(per_sample(params, data[0][idx], data[1][idx]))
        gv = flat(per_sample(params, *targets))
        phi[idx] += (lr / len(idx) * (gz @ gv.T)).double().numpy()
        opt.zero_grad(set_to_none=True)
        seq_loss(model(data[0][idx]), data[1][idx]).mean().backward()
        opt.step()
    return phi


def run_captum(cfg, data, order, targets, lr, ckpts):
    from captum.influence import TracInCP
    from torch.utils.data import TensorDataset

    from attribcli.model.gpt import GPT

    model = GPT(cfg)
    phi = np.zeros((data[0].shape[0], targets[0].shape[0]))
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for t, sd in enumerate(ckpts):  # checkpoints on disk, as Captum expects
            paths.append(str(Path(tmp) / f"step{t}.pt"))
            torch.save({"state_dict": sd, "lr": lr}, paths[-1])
        for path, idx in zip(paths, order):
            B = len(idx)

            def load(m, p, B=B):
                blob = torch.load(p, weights_only=True)
                m.load_state_dict(blob["state_dict"])
                return blob["lr"] / B  # the step's weight: lr times the mean's 1/B

            tracin = TracInCP(model, TensorDataset(data[0][idx], data[1][idx]), [path],
                              checkpoints_load_func=load, loss_fn=seq_loss, batch_size=B,
                              sample_wise_grads_per_batch=False)
            phi[idx] += tracin.influence(targets, k=None).T.double().numpy()  # [M, B] -> [B, M]
    return phi


def run_dattri(cfg, data, order, targets, lr, ckpts, *, exact: bool):
    import dattri.algorithm.tracin as tracin_module
    from dattri.algorithm import TracInAttributor
    from dattri.task import AttributionTask
    from torch.func import functional_call
    from torch.utils.data import DataLoader, TensorDataset

    from attribcli.model.gpt import GPT

    tracin_module.tqdm = lambda it, **kw: it  # its progress bars, two per step, would flood the table
    model = GPT(cfg)

    def f(params, data):  # one sample, no batch dimension (dattri vmaps over the batch)
        x, y = data
        return seq_loss(functional_call(model, params, (x[None],)), y[None])[0]

    test = DataLoader(TensorDataset(*targets), batch_size=targets[0].shape[0], shuffle=False)
    phi = np.zeros((data[0].shape[0], targets[0].shape[0]))
    for sd, idx in zip(ckpts, order):
        B = len(idx)
        task = AttributionTask(loss_func=f, model=model, checkpoints=sd)
        att = TracInAttributor(task, weight_list=torch.tensor([lr / B]), normalized_grad=False, device="cpu")
        if exact:
            att.projector_kwargs = None
        train = DataLoader(TensorDataset(data[0][idx], data[1][idx]), batch_size=B, shuffle=False)
        phi[idx] += att.attribute(train, test).double().numpy()  # [B, M]
    return phi


def agreement(phi: np.ndarray, ref: np.ndarray) -> tuple[float, float, float]:
    a, b = phi.ravel(), ref.ravel()
    return (pearson(a, b), spearman(a, b),
            float(np.abs(a - b).max() / np.abs(b).max()))


REPEAT = 3


def timed(fn, *args, **kw):
    """The result of the last call and the best wall time of REPEAT calls (the first pays warm-up)."""
    best = float("inf")
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        out = fn(*args, **kw)
        best = min(best, time.perf_counter() - t0)
    return out, best


def main() -> None:
    from attribcli.model.gpt import GPT, GPTConfig

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="time each method this many times, report the best")
    ap.add_argument("--png", default=None, help="time over attrib's and agreement per method (needs matplotlib)")
    a = ap.parse_args()
    global REPEAT
    REPEAT = a.repeat
    torch.manual_seed(a.seed)
    cfg = GPTConfig(vocab_size=257, context_length=64, n_layer=2, n_head=2, n_embd=64)
    init = copy.deepcopy(GPT(cfg).state_dict())
    train_s, target_s = texts(a.seed)
    width = max(len(s.encode()) for s in train_s + target_s)
    data, targets = encode(train_s, width), encode(target_s, width)
    N = data[0].shape[0]
    rng = np.random.default_rng(a.seed)
    perms = np.concatenate([rng.permutation(N) for _ in range(-(-a.steps * a.batch // N))])
    order = [torch.as_tensor(perms[k * a.batch:(k + 1) * a.batch]) for k in range(a.steps)]

    rows = []  # (name, seconds or None, phi or None, note)
    ref, t_ref = timed(run_attrib, init, cfg, data, order, targets, a.lr)
    rows.append(("attrib tracked_step (in-run)", t_ref, ref, ""))
    phi, t = timed(run_torch_func, init, cfg, data, order, targets, a.lr)
    rows.append(("torch.func vmap(grad) (in-run)", t, phi, ""))
    ckpts, t_plain = timed(run_plain, init, cfg, data, order, a.lr)
    rows.append(("plain SGD, saving checkpoints", t_plain, None, "(what the post-hoc peers need first)"))
    try:
        import captum  # noqa: F401
    except ImportError:
        rows.append(("Captum TracInCP", None, None, NOT_INSTALLED))
    else:
        phi, t = timed(run_captum, cfg, data, order, targets, a.lr, ckpts)
        rows.append((f"Captum {captum.__version__} TracInCP (post hoc)", t, phi, ""))
    try:
        from importlib.metadata import version

        import dattri  # noqa: F401
        dv = version("dattri")
    except ImportError:
        rows.append(("dattri Grad-Dot", None, None, NOT_INSTALLED))
    else:
        phi, t = timed(run_dattri, cfg, data, order, targets, a.lr, ckpts, exact=True)
        rows.append((f"dattri {dv} Grad-Dot, exact (post hoc)", t, phi, ""))
        phi, t = timed(run_dattri, cfg, data, order, targets, a.lr, ckpts, exact=False)
        rows.append((f"dattri {dv} Grad-Dot, default 512-d proj.", t, phi, ""))

    n_params = sum(p.numel() for p in GPT(cfg).parameters())
    print(f"GPT {cfg.n_layer} layers x {cfg.n_embd} wide ({n_params:,} parameters), float32, plain SGD lr {a.lr}, "
          f"{a.steps} steps x batch {a.batch} over {N} samples, {targets[0].shape[0]} targets, "
          f"{width} tokens wide, seed {a.seed}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"best of {REPEAT}")
    print(f"{'method':44s} {'time s':>8s} {'x attrib':>9s} {'Pearson':>9s} {'Spearman':>9s} {'max rel diff':>13s}")
    agree = {}  # name -> (Pearson, Spearman, max rel diff), the methods that ran and computed values
    for name, t, phi, note in rows:
        if t is None:
            print(f"{name:44s} {note}")
            continue
        head = f"{name:44s} {t:8.2f} {t / t_ref:9.2f}"
        if phi is None:
            print(f"{head} {note}")
        else:
            agree[name] = p, s, d = agreement(phi, ref)
            print(f"{head} {p:9.6f} {s:9.6f} {d:13.2e}")

    with png_figure(a.png, ncols=2, width=6.5, height=4.8,
                    title=f"Peers of attrib: {a.steps} SGD steps x batch {a.batch}, best of {REPEAT}") as axes:
        if axes is None:
            return
        ran = [(name, t) for name, t, _, _ in rows if t is not None]  # skipped peers have no time
        color = {name: f"C{i}" for i, (name, _) in enumerate(ran)}
        axes[0].barh([n for n, _ in ran], [t / t_ref for _, t in ran], color=[color[n] for n, _ in ran])
        axes[0].axvline(1, color="k", ls=":", lw=0.8)
        axes[0].invert_yaxis()
        axes[0].set_xlabel("time / attrib's time")
        peers = [n for n in agree if n != rows[0][0]]  # attrib against itself is not a comparison
        diffs = [agree[n][2] for n in peers]
        axes[1].barh([f"{n}\nPearson {agree[n][0]:.6f}, Spearman {agree[n][1]:.6f}" for n in peers], diffs,
                     color=[color[n] for n in peers])
        if diffs and min(diffs) > 0:
            axes[1].set_xscale("log")
        axes[1].tick_params(axis="y", labelsize=7)
        axes[1].invert_yaxis()
        axes[1].set_xlabel("max |peer - attrib| / max |attrib|")
        axes[1].set_title("agreement with attrib", fontsize=10)


if __name__ == "__main__":
    main()
