"""The ``attrib`` command: train, value, payout, verify (and pretrain for a base model).

Every command turns an ``AttribError`` into one line on stderr and exit code 2; results go to stdout
or to ``-o FILE`` (written atomically), messages to stderr, so commands compose in pipelines.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from attribcli import __version__
from attribcli.errors import AttribError
from attribcli.progress import stderr_log


def _user_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AttribError as exc:
            click.echo(f"error: {exc.line()}", err=True)
            sys.exit(exc.exit_code)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="attrib")
def main():
    """Pay the people whose data trained a generative model.

    \b
    attrib train CONFIG          fine-tune and track In-Run Data Shapley values
    attrib value RUN             values per sample, holder, generation or licence
    attrib payout RUN ...        allocate revenue to rights holders, to the cent
    attrib verify RUN [REPORT]   check hashes and re-derive a report
    """


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), help="Override run_dir from the config.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last checkpoint.")
@_user_errors
def train(config, run_dir, resume):
    """Fine-tune the model of CONFIG and value every training sample for every generation."""
    from attribcli.config import load_config
    from attribcli.train import train as run_training

    cfg = load_config(config, run_dir=run_dir)
    out = run_training(cfg, resume=resume, log=stderr_log)
    stderr_log(f"run written to {out}")
    stderr_log(f"next: attrib payout {out} --revenue-from-generations --format md -o {out}/payout.md")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--text", "text", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Generic UTF-8 text to pre-train on (not the holders' documents).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Weights file to write.")
@click.option("--steps", default=3000, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--lr", default=3e-3, show_default=True, type=click.FloatRange(min=0, min_open=True))
@_user_errors
def pretrain(config, text, out, steps, batch_size, lr):
    """Pre-train a base model with the shape in CONFIG's model section (see README: base model)."""
    from attribcli.config import load_config
    from attribcli.pretrain import pretrain as run_pretrain

    cfg = load_config(config)
    loss = run_pretrain(cfg, text, out, steps=steps, batch_size=batch_size, lr=lr, log=stderr_log)
    stderr_log(f"base weights written to {out} (final training loss {loss:.4f} nats/byte)")


if __name__ == "__main__":  # pragma: no cover
    main()
