"""``attrib train CONFIG --nproc N``: check the inputs here, then hand the job to torchrun on this machine.

torchrun (``python -m torch.distributed.run``) starts the N processes, restarts nothing, and stops
every process when one fails; attrib writes no scheduler of its own. Bad inputs are found before any
process starts, so they still end in one line and exit code 2. Several machines: run torchrun
yourself with its rendezvous flags (README).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from attribcli.config import Config
from attribcli.errors import AttribError
from attribcli.training.layout import partial_dir


def torchrun(args: list[str], nproc: int, log) -> int:
    """Run ``attrib ARGS`` in ``nproc`` processes under torchrun on this machine; its exit code."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
           "-m", "attribcli", *args]
    log(f"launching {nproc} processes: {' '.join(cmd[1:])}")
    return subprocess.run(cmd).returncode


class RunFailed(AttribError):
    """A process of the job died (not a bad input): exit 1, the checkpoint is kept for --resume."""

    exit_code = 1


def launch(config: Config, nproc: int, *, resume: bool, overwrite: bool, log) -> Path:
    from attribcli.training.prepare import prepare
    from attribcli.training.setup import refusals, require_batch_for

    prepared = prepare(config)  # every input error, in this process, before torchrun starts anything
    require_batch_for(config, nproc)
    if prepared.device.type == "cuda" and nproc > torch.cuda.device_count():
        raise AttribError(f"--nproc {nproc} asks for more processes than the {torch.cuda.device_count()} GPUs here "
                          "(one GPU per process)", field="--nproc",
                          fix=f"use --nproc {torch.cuda.device_count()} or less, or training.device: cpu")
    final, part = config.run_dir, partial_dir(config.run_dir)
    refusals(final, part, resume, overwrite)  # what process 0 would refuse, refused before any process starts
    args = ["train", str(config.source), "--run-dir", str(final)]
    args += ["--resume"] if resume else []
    args += ["--overwrite"] if overwrite else []
    code = torchrun(args, nproc, log)
    if code == 0 and (final / "manifest.json").is_file() and not part.exists():
        return final
    if not part.exists():  # process 0 removed it: a bad input found mid-run (e.g. a NaN loss), reported above
        raise AttribError(f"training stopped on the error above (torchrun exit code {code}); nothing was written",
                          file=str(config.source), field="--nproc",
                          fix="fix what the error above names, then train again")
    raise RunFailed(f"training stopped: a process failed (torchrun exit code {code}); nothing was written to the "
                    "run directory", file=str(part), field="--nproc",
                    fix=f"read the first error above, then continue with 'attrib train {config.source} --resume "
                        f"--nproc {nproc}' (the last checkpoint is kept)")
