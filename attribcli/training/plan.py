"""attrib plan: a step's peak memory and time, predicted before anything trains, and whether it fits.

The prediction is a sum of parts, each from the shapes or from a short probe:

- from the shapes: the weights, their gradients and the optimizer's state (AdamW: two numbers per trained one),
  the path rule's copy of the trained weights before each step, the per-sample gradients the tracker keeps for
  the dot products (tracker.SHARED_MAX_ELEMENTS at most, twice under the path rule: the open step's and this
  one's), one block of a layer's target gradients (stream.py) and one chunk of materialized per-sample gradients;
- from the probe: one training sample, then two, forward and backward at the run's real length on this machine:
  the process's peak memory with one (Python, torch, the weights, their gradients, one sample's activations and
  the kernels' transients, as they really are here) and what the second adds (each further sample's
  activations: a transformer's activations grow linearly in the batch at a fixed length); the bytes autograd
  saves for the backward pass and the layer outputs the tracker captures, counted by hooks, carry that over to
  the generations' length. The probe's seconds give the time per step in the same way.

Planning for a device other than this process's (``--device cuda --memory 80GB`` on a CPU machine), nothing can be
measured there: the weights, gradients and activations are then counted (the saved bytes), not measured.

benchmarks/real_size.py measures the prediction against real peaks (RESULTS.md). On a device the user names
(``--device cuda --memory 80GB``) the same parts are summed; only the probe's time is this machine's.
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass, field

import torch

from attribcli.errors import AttribError
from attribcli.inrun.rules import MATERIALIZE_MAX_ELEMENTS, LinearRule, rule_for
from attribcli.inrun.stream import STREAM_MAX_ELEMENTS
from attribcli.inrun.tracker import SHARED_MAX_ELEMENTS, GhostTracker
from attribcli.model.gpt import gib, physical_memory, sequence_losses

BASELINE_BYTES = 400 * 2**20  # a Python process with torch imported, before any model (measured: 0.35-0.45 GiB)


@dataclass
class Plan:
    device: str
    memory: int | None                  # bytes the step may use on that device (None: unknown)
    trainable: int
    frozen: int
    plain: dict[str, int] = field(default_factory=dict)    # part -> bytes
    tracked: dict[str, int] = field(default_factory=dict)  # the tracked step's further parts
    seconds_plain: float = 0.0
    seconds_tracked: float = 0.0
    routes: dict[str, str] = field(default_factory=dict)   # layer -> how its dot products are taken
    rule: str = ""

    loading: int = 0                    # measured: the process's peak before the probe (loading the model)
    generations: int = 0                # valued at each step (with data.reference, the reference texts too)
    reference: int = 0                  # of them, reference texts (data.reference)
    chunk: int = 0                      # of them per backward pass (attribution.target_chunk, or all)
    per_generation: int = 0             # bytes each generation of a chunk adds to the tracked peak

    @property
    def plain_peak(self) -> int:
        return max(self.loading, sum(self.plain.values()))

    @property
    def tracked_peak(self) -> int:
        return max(self.loading, sum(self.plain.values()) + sum(self.tracked.values()))

    @property
    def fits(self) -> bool:
        return self.memory is None or self.tracked_peak <= self.memory

    @property
    def fitting_chunk(self) -> int | None:
        """The largest ``attribution.target_chunk`` predicted to fit (the generations' part of the peak grows with
        the chunk, the rest does not); None when memory is unknown or no chunk fits."""
        if self.memory is None or not self.generations or not self.per_generation:
            return None
        k = min(self.generations, (self.memory - self._besides_generations) // self.per_generation)
        return int(k) if k >= 1 and self.peak_with_chunk(k) <= self.memory else None

    def peak_with_chunk(self, k: int) -> int:
        return max(self.loading, self._besides_generations + k * self.per_generation)

    @property
    def _besides_generations(self) -> int:
        """The tracked step's parts less what its chunk of generations adds (never negative: the parts count
        it)."""
        return sum(self.plain.values()) + sum(self.tracked.values()) - self.chunk * self.per_generation

    def as_dict(self) -> dict:
        return {"device": self.device, "memory": self.memory, "trainable": self.trainable, "frozen": self.frozen,
                "rule": self.rule, "plain": self.plain, "tracked": self.tracked, "plain_peak": self.plain_peak,
                "tracked_peak": self.tracked_peak, "loading": self.loading, "seconds_plain": self.seconds_plain,
                "seconds_tracked": self.seconds_tracked, "routes": self.routes, "fits": self.fits,
                "target_chunk": self.chunk, "bytes_per_generation": self.per_generation,
                "fitting_target_chunk": self.fitting_chunk}


def parse_memory(text: str, field_name: str = "--memory") -> int:
    """``80GB``, ``24GiB``, ``512MB`` (decimal and binary units alike as powers of 1024, as device sheets mean)."""
    units = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "KIB": 2**10, "M": 2**20, "MB": 2**20, "MIB": 2**20,
             "G": 2**30, "GB": 2**30, "GIB": 2**30, "T": 2**40, "TB": 2**40, "TIB": 2**40}
    s = text.strip().upper().replace(" ", "")
    number = s.rstrip("KMGTIB")
    try:
        value = float(number) * units[s[len(number):]]
    except (ValueError, KeyError):
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise AttribError(f"{field_name} {text!r} is not an amount of memory", field=field_name,
                          fix="write it like 80GB or 24GiB")
    return int(value)


def make_plan(prep, *, device: str | None = None, memory: int | None = None, probe: bool = True,
              timed: bool = True) -> Plan:
    """The plan of the prepared run ``prep`` (training/prepare.py) on ``device`` with ``memory`` bytes; ``timed``:
    also the seconds per step (one more pass of each probe, and an optimizer step timed)."""
    cfg, model = prep.config, prep.model
    dev = device or prep.device.type
    if memory is None:
        memory = (torch.cuda.get_device_properties(0).total_memory if dev == "cuda" and torch.cuda.is_available()
                  else physical_memory() if dev == "cpu" else None)
    params = list(model.parameters())
    size = params[0].element_size()
    trainable = sum(p.numel() for p in params if p.requires_grad)
    plan = Plan(dev, memory, trainable, sum(p.numel() for p in params) - trainable,
                rule=cfg.attribution.rule if cfg.attribution.order == 1 or cfg.attribution.rule == "path"
                else f"taylor, order {cfg.attribution.order}")
    t = cfg.training
    adam = t.optimizer == "adamw"
    rows = min(t.micro_batch_size or t.batch_size, t.batch_size)
    N = t.batch_size
    targets = prep.targets  # the generations and data.reference's texts
    M = len(targets)
    chunk = min(M, cfg.attribution.target_chunk or M)
    T = int(prep.samples.length.max()) - 1
    S = max((len(g.tokens(prep.tokenizer)[0]) for g in targets), default=1) - 1
    meter = _peak_meter(prep.device) if dev == prep.device.type else None  # this machine's memory can be read
    here = meter is not None
    plan.loading = meter() if meter and probe else 0  # the peak so far: reading the weights may pass the step's
    sample = _probe(model, T, prep.device, measure=here, timed=timed) if probe else None
    gen = _probe(model, S, prep.device, timed=timed) if probe and M else None
    optimizer = trainable * size * (2 if adam else (1 if t.momentum else 0))
    if sample and here:  # measured: the process with one sequence's step, and what each further one adds
        plan.plain = {"one sample's forward and backward, measured (process, weights, gradients)": sample.first,
                      "optimizer state": optimizer,
                      "activations of the other samples": (rows - 1) * sample.each}
    else:  # counted: the parts from the shapes, the activations as the bytes autograd saves
        plan.plain = {"python and torch": BASELINE_BYTES if dev == "cpu" else 0,
                      "weights": (plan.trainable + plan.frozen) * size,
                      "gradients": trainable * size,
                      "optimizer state": optimizer}
        if sample:
            plan.plain["activations"] = rows * sample.saved
    if sample and timed:
        plan.seconds_plain = N * sample.seconds + _optimizer_rate(prep.device) * trainable
    tracker = GhostTracker(model)
    try:
        plan.routes = _routes(tracker, N, T, M, S, adam)
        shareable = tracker.shareable_size()
        largest = max((tracker.unit_size(u) for u in tracker.units()), default=0)
    finally:
        tracker.close()
    path = cfg.attribution.rule == "path"
    if M:
        kept = min(SHARED_MAX_ELEMENTS, N * shareable) * size  # every micro-batch's, until the step's end
        if gen and sample:
            # measured per sample, carried over to a generation's length by the bytes autograd saves for each
            # (the generations' own probe runs after the samples', into memory the allocator kept: not measurable)
            each = sample.each * gen.saved / max(1, sample.saved) if here else gen.saved
            plan.tracked["generations' activations"] = int(chunk * each)
            plan.tracked["captured output gradients"] = (N * sample.captured * (2 if path else 1)
                                                         + chunk * gen.captured)
            plan.generations, plan.chunk, plan.per_generation = M, chunk, int(each) + gen.captured
            plan.reference = len(prep.reference)
            # the generations' forward and backward over frozen weights (about 2/3 of the probe's, which also formed
            # weight gradients), and under AdamW their weight gradients again, a layer at a time (the other 1/3)
            plan.seconds_tracked = plan.seconds_plain + M * gen.seconds * (1.0 if adam else 2 / 3)
        plan.tracked["kept per-sample gradients"] = kept * (2 if path else 1)
        if path:
            plan.tracked["weights before the step (path rule)"] = trainable * size
            plan.tracked["weights at its end, while a node is taken (path rule)"] = trainable * size
        if adam:
            block = min(chunk * largest, max(STREAM_MAX_ELEMENTS, largest))
            plan.tracked["one layer's target gradients, scaled (AdamW)"] = 2 * block * size
            plan.tracked["per-sample gradients of one layer"] = min(MATERIALIZE_MAX_ELEMENTS, N * largest) * size
    return plan


@dataclass
class _Probe:
    saved: int        # bytes autograd saves for the backward pass, one sequence (the weights not counted)
    captured: int     # bytes of the tracked layers' output gradients, one sequence
    seconds: float    # forward and backward of one sequence (0 when not timed)
    first: int = 0    # measured: the process's peak with one sequence's forward and backward
    each: int = 0     # measured: what each further sequence adds to that peak


def _probe(model, length: int, device, measure: bool = False, timed: bool = True) -> _Probe | None:
    """Sequences of ``length`` tokens forward and backward: the bytes saved and captured for one, its seconds
    (``timed``: one more, warm pass); with ``measure``, the process's peak memory with one sequence and with two
    (the difference is what each sequence of a batch adds: a transformer's activations grow linearly in the
    batch at a fixed length)."""
    if length < 1:
        return None
    saved: dict[int, int] = {}
    captured = 0
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}  # saved for the backward, not new

    def pack(t):
        try:
            key = t.untyped_storage().data_ptr()
            if key not in weights:
                saved[key] = max(saved.get(key, 0), t.untyped_storage().nbytes())
        except (RuntimeError, NotImplementedError):
            pass
        return t

    def hook(module, inputs, output):
        nonlocal captured
        if isinstance(output, torch.Tensor) and any(p.requires_grad for p in module.parameters(recurse=False)):
            captured += output.numel() * 4
    handles = [m.register_forward_hook(hook) for m in model.modules() if rule_for(m) is not None]

    def run(rows: int) -> None:
        x = torch.zeros(rows, length, dtype=torch.long, device=device)
        sequence_losses(model(x), x, torch.ones(rows, length, dtype=torch.bool, device=device)).mean().backward()
        model.zero_grad(set_to_none=True)

    peaks = []
    meter = _peak_meter(device) if measure else None
    try:
        if meter:
            meter(reset=True)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):  # counts, and warms the kernels up
            run(1)
        for h in handles:
            h.remove()
        if meter:
            peaks.append(meter())
            meter(reset=True)
            run(2)
            peaks.append(meter())
    finally:
        for h in handles:
            h.remove()
        model.zero_grad(set_to_none=True)
    seconds = 0.0
    if timed:
        start = time.perf_counter()
        run(1)
        seconds = time.perf_counter() - start
    first, each = (peaks[0], max(0, peaks[1] - peaks[0])) if peaks else (0, 0)
    return _Probe(sum(saved.values()), captured, seconds, first, each)


def _peak_meter(device):
    """A reader of this process's peak memory on ``device`` since its last reset (``meter(reset=True)``; before
    any, since the process started), or None where it cannot be read: CUDA's peak allocation, or Linux's peak
    resident set (VmHWM, reset through /proc/self/clear_refs)."""
    if device.type == "cuda":
        def cuda(reset: bool = False) -> int:
            if reset:
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
                return 0
            return torch.cuda.max_memory_allocated(device)
        return cuda
    if not os.access("/proc/self/clear_refs", os.W_OK):
        return None

    def rss(reset: bool = False) -> int:
        if reset:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
                fh.write("5")
            return 0
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return 0
    return rss


def _optimizer_rate(device) -> float:
    """Seconds per parameter of an AdamW step here (a 4M-parameter step, timed once after a warm-up)."""
    p = torch.zeros(1 << 22, device=device, requires_grad=True)
    p.grad = torch.ones_like(p)
    opt = torch.optim.AdamW([p])
    opt.step()
    start = time.perf_counter()
    opt.step()
    return (time.perf_counter() - start) / p.numel()


def _routes(tracker: GhostTracker, N: int, T: int, M: int, S: int, adam: bool) -> dict[str, str]:
    """How each tracked layer's dot products will be taken at these shapes."""
    out = {}
    for name, module in tracker.layers:
        rule = rule_for(module)
        if adam:  # a per-element scale: each layer's target gradients, a block at a time (stream.py)
            out[name] = "streamed, rows" if type(rule).__name__ == "EmbeddingRule" else "streamed"
        elif isinstance(rule, LinearRule):
            d_out, d_in = rule.dims(module)
            out[name] = rule.choose(N, T, M, S, d_in, d_out) if M else "-"
        else:
            out[name] = type(rule).__name__.removesuffix("Rule").lower()
    return out


def refuse_if_it_cannot_fit(prep) -> Plan | None:
    """``attrib train``'s check: the plan of this machine (the probe leaves the random state and the model as it
    found them), refused with one line when its tracked step cannot fit. The field named is the part that
    weighs most."""
    if not prep.generations:
        return None
    with torch.random.fork_rng(devices=[prep.device] if prep.device.type == "cuda" else []):
        plan = make_plan(prep, timed=False)  # memory only: no pass is spent on the seconds
    if plan.fits:
        return plan
    parts = {**plan.plain, **plan.tracked}
    largest = max(parts, key=parts.get)
    samples = ("training.micro_batch_size", "set training.micro_batch_size (the same step in pieces)")
    k = plan.fitting_chunk
    chunked = (f"set attribution.target_chunk: {k} (predicted {gib(plan.peak_with_chunk(k))})" if k
               else "set attribution.target_chunk (fewer generations per pass)")
    field_name, fix = {
        "activations": samples, "activations of the other samples": samples,
        "generations' activations": ("attribution.target_chunk", chunked),
    }.get(largest, ("model.lora", "train LoRA adapters (model.lora), or a smaller model or batch"))
    raise AttribError(f"a tracked step needs about {gib(plan.tracked_peak)} ({largest}: {gib(parts[largest])}); this "
                      f"machine has {gib(plan.memory)} (attrib plan CONFIG shows every part)",
                      file=str(prep.config.source), field=field_name, fix=fix)


def grouped_routes(routes: dict[str, str]) -> dict[tuple[str, str], int]:
    """(layer name with its block numbers as ``*``, route) → how many layers: 308 LoRA layers of a 1B model read
    as 14 lines."""
    groups: dict[tuple[str, str], int] = {}
    for name, route in routes.items():
        key = (re.sub(r"\.\d+\.", ".*.", name), route)
        groups[key] = groups.get(key, 0) + 1
    return groups


def render(plan: Plan) -> str:
    """The plan as the terminal shows it: parts, peaks, seconds, routes, verdict."""
    lines = [f"device {plan.device}, memory {gib(plan.memory) if plan.memory else 'unknown'}; "
             f"{plan.trainable:,} trained parameters, {plan.frozen:,} frozen; valuation rule: {plan.rule}",
             "", "plain step"]
    lines += [f"  {name:48s} {gib(b):>10s}" for name, b in plan.plain.items()]
    if plan.loading > sum(plan.plain.values()):
        lines.append(f"  {'loading the model (measured), the higher':48s} {gib(plan.loading):>10s}")
    valued = f" ({plan.generations - plan.reference} generations and {plan.reference} reference texts)" \
        if plan.reference else ""
    lines += [f"  {'peak':48s} {gib(plan.plain_peak):>10s}", "", f"tracked step{valued}: the plain step and"]
    lines += [f"  {name:48s} {gib(b):>10s}" for name, b in plan.tracked.items()]
    ratio = plan.tracked_peak / plan.plain_peak if plan.plain_peak else float("nan")
    lines += [f"  {'peak':48s} {gib(plan.tracked_peak):>10s}  ({ratio:.2f} x plain)", ""]
    if plan.seconds_plain:
        lines.append(f"seconds per step (this machine): plain {plan.seconds_plain:.2f}, tracked "
                     f"{plan.seconds_tracked:.2f} (the path rule adds a pass over the generations per extra node)")
    lines.append("routes of the dot products, per layer:")
    lines += [f"  {name}: {route}" + (f" ({n} layers)" if n > 1 else "") for (name, route), n in
              grouped_routes(plan.routes).items()]
    lines.append("")
    lines.append("fits" if plan.fits else f"does NOT fit: {gib(plan.tracked_peak)} predicted, {gib(plan.memory)} "
                 "available (lower training.batch_size or set training.micro_batch_size, set "
                 "attribution.target_chunk, or use model.lora)")
    k = plan.fitting_chunk
    if plan.chunk and k is not None and k < plan.chunk:
        lines.append(f"attribution.target_chunk: {k} is predicted to fit ({gib(plan.peak_with_chunk(k))}; "
                     f"{-(-plan.generations // k)} passes over the generations a step instead of "
                     f"{-(-plan.generations // plan.chunk)})")
    return "\n".join(lines)
