"""``attrib replay RUN --generations FILE --name NAME``: value generations that arrive after training.

A run's trajectory does not depend on the generations it values: their passes run on frozen weights and
add nothing to any gradient (inrun.tracker.capture), so the same config, seed and data order take the
same steps whatever the targets. A replay re-runs the trajectory from the run's own base weights with
the new generations as targets and gets, to the last bit on CPU, the values training would have given
had it named them. It proves this as it goes: each step's training loss must equal ``steps.csv`` and
the weights at each segment's end the kept checkpoint there (the last: ``model.pt``); any difference
stops it with one line and nothing written.

The run's steps are cut into ``training.replay_segments`` segments at kept checkpoints (loop.py), so
``--nproc N`` replays N blocks of segments side by side; each segment's values start from zero and the
join folds them in order exactly as training did (tally.py), so any split gives the same bytes as a
serial replay. A run trained on W data-parallel processes replays on W (its gradients were summed in W
parts), segment after segment.

Layout, next to the run's own tables (hashed in its own manifest, which names the run's):

    valuations/NAME/generations.jsonl   the generations valued
    valuations/NAME/values.npy, losses.csv, steps.csv, target_steps.csv   as a run's own
    valuations/NAME/manifest.json       hashes, the run's manifest hash, how the trajectory was checked
    valuations/NAME.partial/            while replaying: segments/K/ (tally, checkpoint, done.pt)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from attribcli.audit.manifest import method_description, output_hashes
from attribcli.errors import AttribError
from attribcli.files import atomic_torch_save, atomic_write_text, locked, sha256_file, sha256_path
from attribcli.model.lora import merge_lora
from attribcli.posttrain.astrained import as_trained
from attribcli.posttrain.rundir import CHECKPOINT, MANIFEST, VALUATIONS, partial_dir
from attribcli.training.distributed import Group
from attribcli.training.finish import final_losses, report_fidelity, write_valuation
from attribcli.training.loop import Span, kept_checkpoint, run_steps
from attribcli.training.prepare import Prepared
from attribcli.training.setup import drop_temporaries, read_checkpoint, write_generations
from attribcli.training.steps import segment_starts
from attribcli.training.tally import Tally

# On CUDA the same steps differ in the last bits (atomic adds in the backward pass): the trajectory is
# checked to this relative tolerance there, and the largest drift is recorded in the valuation's manifest.
CUDA_TOLERANCE = 1e-3


def check_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name) or name.endswith(".partial"):
        raise AttribError(f"'{name}' is not a valuation name", field="--name",
                          fix="use letters, digits, '-' or '_', e.g. 2026-11")
    return name


def plan(run: Path, generations: Path, name: str, *, resume: bool, group: Group = Group(),
         tokens: bool = True, prepared: tuple | None = None) -> tuple:
    """Every check that needs no step taken: (prep, manifest, segment starts, valuation dir, its .partial);
    ``tokens=False`` for a command that takes no step (astrained.py); ``prepared``: ``as_trained``'s answer for
    these generations, when the caller has it already (a survey's sample)."""
    run = Path(run)
    name = check_name(name)
    prep, manifest, total = prepared or as_trained(run, generations, group=group, tokens=tokens)
    out = run / VALUATIONS / name
    part = partial_dir(out)
    if group.main:
        refuse_existing(out, part, name, resume)
        if part.is_dir():
            drop_temporaries(part)  # half-written files of a kill: the resume writes them again
        group.barrier()
    return prep, manifest, segment_starts(total, prep.config.training.replay_segments), out, part


def refuse_existing(out: Path, part: Path, name: str, resume: bool, *, made: str = "valuation",
                    making: str = "replay") -> None:
    """Refuse a ``made`` (valuation, survey) of that name that exists, or an interrupted ``making`` without
    ``--resume``."""
    if (out / MANIFEST).is_file() and part.is_dir():
        shutil.rmtree(part)  # a finished one killed between its rename and removing its working folder
    if out.exists():
        raise AttribError(f"{made} '{name}' already exists", file=str(out), field="--name",
                          fix=f"choose another name, or delete it to {making} again")
    if part.exists() and not resume:
        raise AttribError(f"an interrupted {making} named '{name}' exists", file=str(part), field="--name",
                          fix="continue it with --resume, or delete it to start over")


def expected_losses(run: Path) -> dict[int, float]:
    steps = pd.read_csv(run / "steps.csv", dtype={"train_loss": str})  # repr text, parsed exactly by float()
    return dict(zip(steps["step"].astype(int), (float(v) for v in steps["train_loss"])))


class Trajectory:
    """Checks a replay against the run: each step's training loss, then the weights where a segment ends."""

    def __init__(self, run: Path, device: torch.device):
        self.run = run
        self.want = expected_losses(run)
        self.tolerance = CUDA_TOLERANCE if device.type == "cuda" else 0.0
        self.drift = 0.0  # largest relative difference seen (0 on CPU, where any difference stops the replay)

    def loss(self, step: int, got: float) -> None:
        want = self.want[step]
        rel = abs(got - want) / max(abs(want), 1e-30)
        if rel > self.tolerance:
            raise AttribError(f"step {step}: the training loss is {got!r}, the run's was {want!r}: the trajectory is "
                              "not the run's", file=str(self.run / "steps.csv"),
                              fix="replay with the torch version, device and thread count of manifest.json's "
                                  "environment (the run's own machine reproduces it bit for bit)")
        self.drift = max(self.drift, rel)

    def weights(self, got: dict, want: dict, where: str) -> None:
        for key, w in want.items():
            g = got[key].detach().cpu()
            w = w.detach().cpu() if isinstance(w, torch.Tensor) else w
            if not isinstance(w, torch.Tensor):
                continue
            same = torch.equal(g, w) if not self.tolerance else \
                float((g.double() - w.double()).abs().max()) <= self.tolerance * max(1.0, float(w.abs().max()))
            if not same:
                raise AttribError(f"after the replayed steps '{key}' differs from {where}: the trajectory is not "
                                  "the run's", file=str(self.run / where),
                                  fix="replay with the torch version, device and thread count of manifest.json's "
                                      "environment")


def blocks(segments: int, processes: int) -> list[range]:
    """Contiguous blocks of segment indices, one per process (a process may get none)."""
    edges = [round(r * segments / processes) for r in range(processes + 1)]
    return [range(edges[r], edges[r + 1]) for r in range(processes)]


def replay_segments(run: Path, prep: Prepared, manifest: dict, starts: tuple[int, ...], part: Path, mine,
                    group: Group, log, check: Trajectory) -> None:
    """Replay segments ``mine`` in order; each ends with its values and small state in ``segments/K/done.pt``.
    ``group`` is the data-parallel group of a run trained on several processes (else a group of one)."""
    total = manifest["steps"]
    ends = starts[1:] + (total,)
    for k in mine:
        seg = part / "segments" / str(k)
        if (seg / "done.pt").is_file():
            continue
        state = None
        if (seg / CHECKPOINT).is_file():  # an interrupted segment: its own last checkpoint
            state = read_checkpoint(seg / CHECKPOINT, fix=f"start the replay over: remove {part} and replay "
                                                          "without --resume")
        elif k:
            state = torch.load(run / kept_checkpoint(starts[k]), map_location="cpu", weights_only=True)
        if group.main:
            seg.mkdir(parents=True, exist_ok=True)
        log(f"segment {k + 1} of {len(starts)}: steps {starts[k] + 1} to {ends[k]}")
        out = run_steps(seg, prep, state, log, group, Span(ends[k], check=check.loss))
        last = k == len(starts) - 1
        finals = final_losses(out.model, prep, out.targets) if last else None
        if last:
            if prep.lora:
                merge_lora(out.model)
            blob = torch.load(run / "model.pt", map_location="cpu", weights_only=True)
            check.weights(out.model.state_dict(), blob["state_dict"], "model.pt")
        else:
            kept = torch.load(run / kept_checkpoint(ends[k]), map_location="cpu", weights_only=True)
            check.weights(out.model.state_dict(), kept["model"], kept_checkpoint(ends[k]))
            check.weights(_flat(out.optimizer.state_dict()), _flat(kept["optimizer"]), kept_checkpoint(ends[k]))
        if group.main:
            t = out.tally
            t.close()
            atomic_torch_save({"tally": t.checkpoint_state(), "drift": check.drift,
                               **({"final": [torch.from_numpy(f) for f in finals]} if last else {})},
                              seg / "done.pt")
            (seg / CHECKPOINT).unlink(missing_ok=True)
        group.barrier()


def _flat(state: dict) -> dict:
    """An optimizer state as ``{"param/key": tensor}`` for a comparison tensor by tensor."""
    return {f"{p}/{k}": v for p, s in state["state"].items() for k, v in s.items() if isinstance(v, torch.Tensor)}


def join(run: Path, prep: Prepared, manifest: dict, starts: tuple[int, ...], out: Path, part: Path,
         processes: int, log, generated: dict | None = None) -> Path:
    """Fold the segments' values in order (as training folds them), write the valuation, make it final."""
    done = [torch.load(part / "segments" / str(k) / "done.pt", map_location="cpu", weights_only=True)
            for k in range(len(starts))]
    n, M = len(prep.samples), len(prep.generations)
    first = done[0]["tally"]
    tally = Tally.create(part, n, M, first["loss_base"].numpy().copy(), parts=bool(prep.reference))
    for k, d in enumerate(done):
        seg = part / "segments" / str(k) / "tally"
        tables = [np.load(seg / f"{kind}-0.npy", mmap_mode="r") for kind in tally.kinds]
        (tally.take if k == 0 else tally.adopt)(tables, d["tally"]["carry"].numpy())
        tally.seen += d["tally"]["seen"].numpy()
        tally.step_rows += [tuple(r) for r in d["tally"]["step_rows"]]
        tally.target_rows += [tuple(r) for r in d["tally"]["target_rows"]]
    loss_final, loss_no_prompt = (f.numpy() for f in done[-1]["final"])
    total = manifest["steps"]
    folder = part / "out"
    folder.mkdir(exist_ok=True)
    write_generations(folder / "generations.jsonl", prep.generations)
    valued = write_valuation(folder, prep, total, tally, loss_final, loss_no_prompt)
    tally.remove()
    g = prep.config.data.generations
    body = {
        "format": "attrib-valuation-v1", "name": out.name, "kind": "replay",
        "run_manifest_sha256": sha256_file(run / MANIFEST),
        "generations_input": {"path": str(g), "sha256": sha256_path(g)},
        **({"generated": generated} if generated else {}),  # completed by the run's model from these prompts
        "outputs": output_hashes(folder),
        "method": method_description(_rule(prep), prep.config.attribution, prep.lora),
        "trajectory": {"steps_checked": total, "segments": len(starts), "processes": processes,
                       "device": prep.device.type,
                       "tolerance": CUDA_TOLERANCE if prep.device.type == "cuda" else 0.0,
                       "max_relative_loss_drift": max(float(d["drift"]) for d in done),
                       "weights": "checked at every segment's end against the kept checkpoint and model.pt"},
        **valued,
    }
    atomic_write_text(folder / MANIFEST, json.dumps(body, indent=2, sort_keys=True) + "\n")
    os.replace(folder, out)
    shutil.rmtree(part)
    report_fidelity(valued["fidelity"], prep.config.attribution.rule == "path", log)
    return out


def _rule(prep: Prepared):
    from attribcli.inrun.optim import update_rule

    return update_rule(prep.config.training)


def replay(run: Path, generations: Path, name: str, *, resume: bool = False, log=print,
           group: Group = Group(), generated: dict | None = None, prepared: tuple | None = None) -> Path:
    """Replay RUN's trajectory valuing GENERATIONS into ``RUN/valuations/NAME``; under torchrun either the run's
    own data-parallel group (a run trained on several processes) or side-by-side blocks of segments.
    ``prepared``: the run as trained with GENERATIONS as its targets (plan), its model at the base weights."""
    run = Path(run)
    done = run / VALUATIONS / check_name(name)
    if resume and (done / MANIFEST).is_file():  # killed after its rename: complete, only the working folder left
        if group.main:
            shutil.rmtree(partial_dir(done), ignore_errors=True)
            log(f"valuation already complete: {done}")
        return done
    prep, manifest, starts, out, part = plan(run, generations, name, resume=resume, group=group, prepared=prepared)
    trained_on = int(manifest.get("processes", 1))
    if group.world != trained_on and trained_on > 1:
        raise AttribError(f"the run was trained on {trained_on} processes; its replay must be too (the gradient "
                          f"was summed in {trained_on} parts)", field="--nproc", fix=f"use --nproc {trained_on}")
    threads = torch.get_num_threads()
    if prep.device.type == "cpu":  # the run's own thread count: CPU reductions are split by thread
        torch.set_num_threads(int(manifest.get("threads", threads)))
    try:
        check = Trajectory(run, prep.device)
        with contextlib.ExitStack() as held:
            if not group.active:  # under torchrun the launching command holds it (cli.replay)
                held.enter_context(locked(out, field="--name", wait=False))  # one replay of a NAME at a time
                refuse_existing(out, part, name, resume)  # again, now that no other replay can change it
            return _replay(run, prep, manifest, starts, out, part, group, log, check, generated)
    finally:  # the caller's process keeps its own (an in-process caller's later runs would change bytes)
        torch.set_num_threads(threads)


def _replay(run, prep, manifest, starts, out, part, group, log, check, generated) -> Path:
    trained_on = int(manifest.get("processes", 1))
    try:
        if trained_on > 1:  # data-parallel: every process takes every segment together
            replay_segments(run, prep, manifest, starts, part, range(len(starts)), group, log, check)
        else:  # side by side: each process its own block of segments, on its own
            mine = blocks(len(starts), group.world)[group.rank]
            replay_segments(run, prep, manifest, starts, part, mine, Group(), log if group.main else _silent,
                            check)
            group.barrier()
    except AttribError:
        if group.main:
            shutil.rmtree(part, ignore_errors=True)  # the trajectory is not the run's: nothing is kept
        raise
    if not group.main:
        return out
    return join(run, prep, manifest, starts, out, part, group.world, log, generated)


def _silent(message: str) -> None:
    return None
