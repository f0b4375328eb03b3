"""Data parallelism through PyTorch's own engine: torchrun starts the processes, DDP sums the gradients.

    torchrun --nproc_per_node N -m attribcli train CONFIG      (or: attrib train CONFIG --nproc N)

Every process holds the whole model and every generation. Each optimizer step's global batch (the
same indices a single-process run would draw, from (seed, epoch)) is split into N contiguous shards,
one per process; each process tracks the values of its own samples against every generation, and
process 0 gathers the rows into the one value table. Because a sample's value needs only its own
gradient and the targets' (identical on every process), the result equals a single-process run on
the same global batches, up to the rounding of summing the gradient in N parts.

Process 0 alone writes the run directory and its checkpoints (atomically); the others wait at a
barrier. Backend: NCCL when the run trains on CUDA, gloo on CPU. Multi-node: torchrun's rendezvous
flags (``--nnodes``, ``--node_rank``, ``--rdzv_endpoint``), see the README.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Group:
    """This process's place in the job: rank 0 of 1 when not launched by torchrun."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def broadcast(self, obj):
        """Process 0's ``obj`` on every process (a decision only process 0 can make, e.g. from disk)."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def all_reduce(self, t: torch.Tensor) -> torch.Tensor:
        """Sum over processes (in place, returned for chaining)."""
        if self.active:
            dist.all_reduce(t)
        return t

    def gather_rows(self, rows: np.ndarray | None) -> list[np.ndarray | None] | None:
        """Every process's ``rows`` on process 0 in rank order (``None`` elsewhere)."""
        if not self.active:
            return [rows]
        out = [None] * self.world if self.main else None
        dist.gather_object(rows, out, dst=0)
        return out

    def shard(self, idx: np.ndarray) -> np.ndarray:
        """This process's contiguous part of a global batch's sample indices (may be empty)."""
        return np.array_split(idx, self.world)[self.rank] if self.active else idx


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(cuda: bool) -> Group:
    """Join the process group torchrun describes in the environment (once per process). ``cuda``: the
    run trains on GPUs (NCCL, one GPU per process on each node); otherwise gloo on the CPU."""
    if not launched_by_torchrun():
        return Group()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)  # "cuda" now means this process's own GPU
    if not dist.is_initialized():
        # long enough for process 0 to tokenize a large corpus while the others wait (prepare.py); a process
        # that dies is noticed by torchrun, which stops the rest, so no collective waits this long for it
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(hours=2))
    return Group(dist.get_rank(), dist.get_world_size(), local)


def shutdown(group: Group) -> None:
    if group.active and dist.is_initialized():
        dist.destroy_process_group()


def leave(group: Group) -> None:
    """End a torchrun process whose work is done and written, skipping the interpreter's teardown.

    Measured: about 1 in 20 two-process CPU runs under load aborted after everything was written and the
    process group destroyed, in the C++ teardown at exit ("terminate called without an active exception",
    no Python frame on the stack); torchrun then calls the whole job failed. Nothing is left to run or to
    flush but the standard streams, so the process ends here with exit code 0."""
    if group.active:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def wrap(model: torch.nn.Module, group: Group):
    """The module the training forward goes through: DDP when distributed (its backward all-reduces
    the gradient), the model itself otherwise. Targets always run on the bare model (no gradient sync)."""
    if not group.active:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    device_ids = [group.local_rank] if next(model.parameters()).is_cuda else None
    return DDP(model, device_ids=device_ids)
