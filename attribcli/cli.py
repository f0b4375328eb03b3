"""The ``attrib`` command: train, generate, value, payout, verify (and tokenizer, pretrain for a base model).

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
            try:
                return fn(*args, **kwargs)
            except AttribError:
                _confirm_reads()  # an altered run file is the finding, not what parsing it then tripped on
                raise
            finally:
                _confirm_reads(drop=True)  # nothing left running into the next command of this process
        except AttribError as exc:
            if not exc.quiet:
                click.echo(f"error: {exc.line()}", err=True)
            sys.exit(exc.exit_code)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="attrib")
def main():
    """Pay the people whose data trained a generative model.

    \b
    attrib plan CONFIG           predict a step's memory and time, and whether it fits
    attrib train CONFIG          fine-tune and track In-Run Data Shapley values
    attrib generate RUN ...      complete prompts with the fine-tuned model
    attrib replay RUN ...        value generations that arrive after training, exactly
    attrib value RUN             values per sample, holder, generation or licence
    attrib payout RUN ...        allocate revenue to rights holders, to the cent
    attrib verify RUN [REPORT]   check hashes and re-derive a report
    """
    from attribcli.allocator import keep_freed_memory

    keep_freed_memory()  # every command and every torchrun process: a step's freed blocks are reused, not re-faulted


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), help="Override run_dir from the config.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Delete an existing run (finished or interrupted) at run_dir first.")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes on this machine (one per GPU): launches torchrun. Several machines: see README.")
@_user_errors
def train(config, run_dir, resume, overwrite, nproc):
    """Fine-tune the model of CONFIG and value every training sample for every generation."""
    from attribcli.config import load_config
    from attribcli.errors import AttribError
    from attribcli.training import distributed
    from attribcli.training.loop import train as run_training

    if resume and overwrite:
        raise AttribError("--resume and --overwrite contradict each other", field="--overwrite", fix="pass one of them")
    cfg = load_config(config, run_dir=run_dir)
    if nproc > 1 and not distributed.launched_by_torchrun():
        from attribcli.training.launch import launch

        out = launch(cfg, nproc, resume=resume, overwrite=overwrite, log=stderr_log)  # process 0 said where
    else:
        from attribcli.training.prepare import resolve_device

        group = distributed.init(cuda=resolve_device(cfg).type == "cuda")
        try:
            out = run_training(cfg, resume=resume, overwrite=overwrite, log=stderr_log, group=group)
        except AttribError as exc:
            if not group.main:  # process 0 reports it; the others only exit with its code
                exc.quiet = True
            raise
        finally:
            distributed.shutdown(group)
        if group.main:
            stderr_log(f"run written to {out}")
        if group.active:  # a torchrun process: 'attrib train --nproc' values generated completions once it is done
            if group.main and cfg.data.generation_prompts is None:
                stderr_log(_next_payout(out))
            distributed.leave(group)
    if cfg.data.generation_prompts is not None:
        from attribcli.deployment.generate import generate_and_replay

        valuation = generate_and_replay(out, processes=nproc, log=stderr_log)
        stderr_log(f"generated completions valued in {valuation}")
    if nproc == 1 or cfg.data.generation_prompts is not None:
        stderr_log(_next_payout(out))


@main.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--device", type=click.Choice(["cpu", "cuda"]), help="Plan for this device (default: the config's).")
@click.option("--memory", help="Memory the device has, e.g. 80GB (default: this machine's, or the CUDA device's).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON (bytes and seconds).")
@_user_errors
def plan(config, device, memory, as_json):
    """Predict one step's peak memory and time, plain and tracked, the route of each layer, and whether it fits.

    Nothing is trained: the config's inputs are checked as `attrib train` checks them (its token cache is written,
    for train to reuse), then one training sample and one generation run forward and backward as a probe.
    Exits 1 when the tracked step does not fit."""
    import json

    from attribcli.config import load_config
    from attribcli.training.plan import make_plan, parse_memory, render
    from attribcli.training.prepare import prepare

    cfg = load_config(config)
    limit = parse_memory(memory) if memory is not None else None
    prep = prepare(cfg)
    result = make_plan(prep, device=device, memory=limit)
    click.echo(json.dumps(result.as_dict(), indent=1) if as_json else render(result))
    if not result.fits:
        sys.exit(1)


def _next_payout(run: Path, valuation: str | None = None) -> str:
    """The command to run next, shell-quoted so it pastes as printed whatever the run's path or NAME holds."""
    from shlex import quote

    if valuation is not None:
        return f"next: attrib payout {quote(str(run))} --valuation {quote(valuation)} --revenue-from-generations " \
               "--format md"
    return f"next: attrib payout {quote(str(run))} --revenue-from-generations --format md -o " \
           f"{quote(f'{run}/reports/payout.md')}"


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
    from attribcli.training.pretrain import pretrain as run_pretrain

    cfg = load_config(config)
    loss = run_pretrain(cfg, text, out, steps=steps, batch_size=batch_size, lr=lr, log=stderr_log)
    stderr_log(f"base weights written to {out} (final training loss {loss:.4f} nats/token)")


@main.command()
@click.option("--text", "text", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Generic UTF-8 text to learn the vocabulary from (the base text, not the holders' documents).")
@click.option("--vocab-size", default=2048, show_default=True, type=int, help="Tokens, including 256 bytes and BOS.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="tokenizer.json to write.")
@_user_errors
def tokenizer(text, vocab_size, out):
    """Train a byte-level BPE tokenizer for the built-in GPT (model.tokenizer; see README: base model)."""
    from attribcli.model.tokenizer import train_bpe

    tok = train_bpe(text, out, vocab_size=vocab_size)
    stderr_log(f"tokenizer written to {out} ({tok.vocab_size} tokens, {tok.id})")


def _confirm_reads(*, drop: bool = False) -> None:
    """Every run file this command read was the manifest's (the value table's hash may still be running);
    ``drop``: forget what is still running, unchecked (the command is ending without output)."""
    rundir = sys.modules.get("attribcli.posttrain.rundir")  # not imported: no run was read
    if rundir is not None:
        rundir.confirm_reads(drop=drop)


def _emit(text: str, output: Path | None) -> None:
    """Write to stdout (no -o, or -o -) or atomically to a file, so a failed run leaves no partial report; never
    before the run files it was made from are confirmed against their manifest."""
    _confirm_reads()
    if output is None or str(output) == "-":
        click.echo(text, nl=False)
        return
    from attribcli.files import atomic_write_text

    _writing(output, "-o", lambda: atomic_write_text(output, text))
    stderr_log(f"report written to {output}")


def _writing(path: Path, field: str, write) -> None:
    """Run ``write`` (an atomic write to ``path``); a path that cannot be written (a directory, a parent that is a
    file, /proc, a full or read-only disk) is one line naming it and the option, not an OSError's traceback."""
    fix = f"give {field} a file path in a folder you can write to" + (", or '-' for stdout" if field == "-o" else "")
    try:
        if Path(path).is_dir():
            raise AttribError("is a directory", file=str(path), field=field, fix=fix)
        write()
    except OSError as exc:
        raise AttribError(f"cannot be written ({exc.strerror or type(exc).__name__})", file=str(path), field=field,
                          fix=fix) from None


def _fraction(text: str | None, field: str) -> float | None:
    """An option's fraction in [0, 1], read here rather than by click's FloatRange, which lets 'nan' through (to be
    blamed on the config file later) and answers other bad values with a usage screen instead of one line."""
    import math

    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise AttribError(f"{text!r} is not a fraction between 0 and 1", field=field, fix="e.g. 0.3 for 30 %")
    return value


_VALUATION = click.option("--valuation", metavar="NAME",
                           help="Which generations' values: a replay in RUN/valuations/ (default: the training-time "
                                "generations, else the run's only valuation).")
_FORMAT = click.option("--format", "fmt", type=click.Choice(["csv", "md", "json"]), default="csv", show_default=True)
_OUTPUT = click.option("-o", "--output", type=click.Path(path_type=Path),  # a directory: _emit's one line
                       help="File to write (atomically); '-' or omitted: stdout.")


@main.command()
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path))
@click.option("--prompts", "prompts", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="JSONL: id, prompt[, revenue] per line.")
@_OUTPUT
@click.option("--max-new-tokens", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--temperature", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="0: greedy (the most likely token each time).")
@click.option("--top-p", default=1.0, show_default=True, type=click.FloatRange(min=0, max=1, min_open=True),
              help="Nucleus sampling: draw from the most likely tokens holding this much probability.")
@click.option("--seed", default=0, show_default=True, type=int, help="Same prompts and seed, same text.")
@_user_errors
def generate(run_dir, prompts, output, max_new_tokens, temperature, top_p, seed):
    """Complete PROMPTS with RUN's fine-tuned model, one generations-format JSONL line per prompt."""
    from attribcli.deployment.generate import generate as run_generate

    _emit(run_generate(run_dir, prompts, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                       seed=seed, log=stderr_log), output)


@main.command()
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path))
@click.option("--generations", "generations", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="JSONL: id, prompt, completion[, revenue] per line (e.g. from 'attrib generate').")
@click.option("--name", required=True, help="The valuation to write: RUN/valuations/NAME (e.g. the period, 2026-11).")
@click.option("--per", type=click.Choice(["sample", "payee"]), default="sample", show_default=True,
              help="payee: values per payee only (the index summed per payee first): a period's millions of "
                   "generations without a table over samples; statements and holder values, no document tables.")
@_user_errors
def query(run_dir, generations, name, per):
    """Value GENERATIONS from RUN's gradient index (attribution.index): approximate, far cheaper than a replay."""
    from attribcli.posttrain.query import query as run_query

    out = run_query(run_dir, generations, name, per=per, log=stderr_log)
    stderr_log(f"valuation written to {out} (approximate: from the gradient index)")
    stderr_log(_next_payout(run_dir, name))


@main.command()
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path))
@click.option("--generations", "generations", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="JSONL: id, prompt, completion[, revenue] per line (e.g. from 'attrib generate').")
@click.option("--name", required=True, help="The valuation to write: RUN/valuations/NAME (e.g. the period, 2026-11).")
@click.option("--nproc", type=click.IntRange(min=1),
              help="Processes: segments side by side (training.replay_segments), or a data-parallel run's own "
                   "process count (the default).")
@click.option("--resume", is_flag=True, help="Continue an interrupted replay of the same NAME.")
@_user_errors
def replay(run_dir, generations, name, nproc, resume):
    """Value GENERATIONS exactly as if RUN had been trained with them, by re-running its trajectory."""
    import os

    from attribcli.posttrain.replay import replay as run_replay
    from attribcli.training import distributed

    if not distributed.launched_by_torchrun():
        from attribcli.posttrain.rundir import check_reads, finished

        recorded = check_reads(finished(run_dir), ())  # the manifest itself, readable; the replay checks the rest
        trained_on = recorded.get("processes", 1)
        if not isinstance(trained_on, int) or trained_on < 1:
            raise AttribError("the manifest's process count is not a positive integer", field="processes",
                              file=str(run_dir / "manifest.json"), fix="run 'attrib verify' on it, or train again")
        nproc = nproc or trained_on
        if trained_on > 1 and nproc != trained_on:
            raise AttribError(f"the run was trained on {trained_on} processes; its replay must be too (the gradient "
                              f"was summed in {trained_on} parts)", field="--nproc", fix=f"use --nproc {trained_on}")
        if nproc > 1:
            from attribcli.posttrain.replay import plan
            from attribcli.training.launch import RunFailed, torchrun

            prep = plan(run_dir, generations, name, resume=resume)[0]  # every input error, before any process
            threads = recorded.get("threads", 1)
            cores = os.cpu_count() or 1
            if prep.device.type == "cpu" and trained_on == 1 and nproc * threads > cores:
                stderr_log(f"warning: {nproc} processes x the run's {threads} threads on {cores} cores: side by side "
                           "on too few cores is slower than one process (benchmarks/RESULTS.md, Replay cost)")
            from attribcli.files import locked
            from attribcli.posttrain.replay import refuse_existing
            from attribcli.posttrain.rundir import VALUATIONS, partial_dir

            args = ["replay", str(run_dir), "--generations", str(generations), "--name", name]
            out = run_dir / VALUATIONS / name
            with locked(out, field="--name", wait=False):  # one replay of a NAME at a time, all its processes
                refuse_existing(out, partial_dir(out), name, resume)
                code = torchrun(args + (["--resume"] if resume else []), nproc, stderr_log)
            if code:
                raise RunFailed(f"the replay stopped (torchrun exit code {code})", file=str(run_dir), field="--nproc",
                                fix="read the first error above; an interrupted replay continues with --resume")
            return
    group = distributed.init(cuda=_trains_on_cuda(run_dir))
    try:
        out = run_replay(run_dir, generations, name, resume=resume, log=stderr_log, group=group)
    finally:
        distributed.shutdown(group)
    if group.main:
        stderr_log(f"valuation written to {out}")
        stderr_log(_next_payout(run_dir, name))
    distributed.leave(group)


@main.command()
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path))
@click.option("--generations", "generations", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="JSONL: the period's generations, id, prompt, completion, revenue per line.")
@click.option("--sample", "sample", required=True, type=click.IntRange(min=1), metavar="K",
              help="Generations to value exactly, drawn with probability proportional to revenue (at least the "
                   "number with revenue: a census).")
@click.option("--seed", default=0, show_default=True, type=int, help="Draws the sample; recorded, so verify "
                                                                     "draws it again.")
@click.option("--name", required=True, help="The survey to write: RUN/surveys/NAME, its sample's values in "
                                            "RUN/valuations/NAME (e.g. the period, 2026-11).")
@click.option("--auxiliary", type=click.Choice(["none", "index"]), default="none", show_default=True,
              help="index: also value every generation per payee from the run's gradient index, for the difference "
                   "estimator (README: it narrows the interval only where the index is close to exact).")
@click.option("--resume", is_flag=True, help="Continue an interrupted survey of the same NAME.")
@_user_errors
def survey(run_dir, generations, sample, seed, name, auxiliary, resume):
    """Value a period's GENERATIONS from a revenue-weighted sample: the drawn ones exactly by replay (with
    --auxiliary index, every one per payee from the run's gradient index too); then 'attrib payout RUN --survey
    NAME'."""
    from attribcli.posttrain.survey import survey as run_survey

    out = run_survey(run_dir, generations, sample=sample, seed=seed, name=name, resume=resume,
                     with_index=auxiliary == "index", log=stderr_log)
    stderr_log(f"survey written to {out}")
    stderr_log(f"next: attrib payout {run_dir} --survey {name} --format md -o {name}.md")


def _trains_on_cuda(run_dir: Path) -> bool:
    """Whether the run's config trains on a GPU here (a replay's process group is then NCCL)."""
    import torch
    import yaml

    try:
        device = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))["training"]["device"]
    except (OSError, ValueError, KeyError, TypeError):
        return False  # the replay's own checks say what is wrong with the run
    return torch.cuda.is_available() and device != "cpu"


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--by", type=click.Choice(["sample", "holder", "generation", "license"]), default="holder",
              show_default=True)
@click.option("--part", type=click.Choice(["total", "specific", "shared"]), default="total", show_default=True,
              help="With data.reference: the part of each value specific to its generation, or shared with the "
                   "reference texts (README, Method: shared and specific value).")
@_VALUATION
@_FORMAT
@_OUTPUT
@_user_errors
def value(run_dir, by, part, valuation, fmt, output):
    """Value tables of a run: per sample, holder, generation (with the efficiency check) or licence."""
    from attribcli.posttrain.rundir import open_run
    from attribcli.reports.render import render
    from attribcli.reports.spec import ReportSpec
    from attribcli.valuation.valuation import Valuation

    val = Valuation(open_run(run_dir, valuation, behind=True))  # the table's hash confirmed before any output
    _emit(render(val, ReportSpec(kind="value", format=fmt, by=by, valuation=val.valuation, part=part)), output)
    gap = val.losses["relative_gap"].abs().max()
    stderr_log(f"efficiency check: sum of values vs realised loss reduction, max |relative gap| {gap:.2%} "
               f"over {len(val.losses)} generations (details: --by generation)")


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--revenue", help="Total revenue for the period (decimal string), split evenly across generations.")
@click.option("--revenue-from-generations", is_flag=True, help="Use each generation's own 'revenue' field.")
@click.option("--currency", help="ISO 4217 code (default: payout.currency of the run's config).")
@click.option("--detail", is_flag=True, help="CSV: one row per payee x generation instead of per payee.")
@click.option("--stages", type=click.Choice(["measured", "fixed", "data_only"]),
              help="Override the run's payout.stages: how revenue splits across base model, data and prompt.")
@click.option("--shared", type=click.Choice(["pool", "tokens", "generation", "total"]),
              help="Override the run's payout.shared: how the shared part of each generation's data money is paid "
                   "(runs trained with data.reference; README, Method: shared and specific value).")
@click.option("--platform-fee", metavar="FRACTION", help="Override the run's payout.platform_fee (0-1).")
@click.option("--minimum-payout", metavar="AMOUNT",
              help="Holders owed less are paid nothing now; the amount is carried forward (see --ledger).")
@click.option("--period", metavar="LABEL",
              help='The period the statement covers, e.g. "2026-Q3" (shown in the heading).')
@click.option("--opted-out", "opted_out", metavar="IDS",
              help="Comma-separated holder ids who opted out after training: flagged in the statement.")
@click.option("--floor", metavar="AMOUNT", help="Least a holder with positive value receives (from holders above it).")
@click.option("--cap", metavar="AMOUNT", help="Most a holder receives; the excess goes to holders below the cap.")
@click.option("--ledger", type=click.Path(dir_okay=False, path_type=Path),
              help="Carry-forward ledger to settle against (created if missing; one entry appended per statement).")
@click.option("--plot", is_flag=True,
              help='Markdown to a file: also write a PNG of payee shares and sample values next to it '
                   '(pip install "attribcli[plot]").')
@click.option("--sign", is_flag=True, help="Sign the statement (md/json) with HMAC-SHA256; key in ATTRIB_SIGNING_KEY "
                                          "(implied for full md/json statements when that variable is set).")
@click.option("--holder", metavar="ID",
              help="The statement one holder is sent (md or json): their lines, documents, proof.")
@click.option("--claims", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV doc_id,holder_id: escrow documents claimed by a holder (with --ledger): their carried "
                   "escrow and later amounts go to the holder.")
@click.option("--survey", metavar="NAME",
              help="Estimate the whole period from survey NAME (attrib survey): each line with its 95 % interval.")
@click.option("--auxiliary", type=click.Choice(["index", "none"]),
              help="With --survey: correct the index's values of every generation by the sample (difference "
                   "estimator; the default when the survey has them), or the sample alone (Horvitz-Thompson).")
@click.option("--proof-for", "proof_for", metavar="PAYEE",
              help="Write PAYEE's statement line with its Merkle inclusion proof (JSON) instead of the statement.")
@_VALUATION
@_FORMAT
@_OUTPUT
@_user_errors
def payout(run_dir, revenue, revenue_from_generations, currency, detail, stages, shared, platform_fee,
           minimum_payout, period, opted_out, floor, cap, ledger, plot, sign, holder, claims, survey, auxiliary,
           proof_for, valuation, fmt, output):
    """Allocate revenue to rights holders in proportion to positive value, in exact minor units."""
    from attribcli.errors import AttribError
    from attribcli.money.amounts import exponent
    from attribcli.posttrain.rundir import open_run
    from attribcli.reports.spec import ReportSpec
    from attribcli.valuation.valuation import Valuation

    platform_fee = _fraction(platform_fee, "--platform-fee")
    if survey is not None:
        _survey_statement(run_dir, survey, revenue=revenue, currency=currency, stages=stages, shared=shared,
                          platform_fee=platform_fee, period=period, valuation=valuation, fmt=fmt, output=output,
                          auxiliary=auxiliary,
                          refused={"--detail": detail, "--minimum-payout": minimum_payout, "--opted-out": opted_out,
                                   "--floor": floor, "--cap": cap, "--ledger": ledger, "--plot": plot,
                                   "--sign": sign, "--holder": holder, "--claims": claims, "--proof-for": proof_for})
        return
    if auxiliary is not None:
        raise AttribError("--auxiliary goes with --survey", field="--auxiliary",
                          fix="add --survey NAME, or leave it out")
    if (revenue is None) == (not revenue_from_generations):
        raise AttribError("give exactly one of --revenue AMOUNT and --revenue-from-generations", field="--revenue",
                          fix="e.g. --revenue 1000.00, or --revenue-from-generations to use each generation's revenue")
    val = Valuation(open_run(run_dir, valuation, behind=True))  # read once, handed down; confirmed before output
    if currency is None:
        from attribcli.config import payout_policy

        currency = payout_policy(val.config_path).currency
    exponent(currency, field="--currency")
    if not sign and fmt != "csv" and holder is None and proof_for is None:
        from attribcli.reports.merkle import key_from_env

        sign = key_from_env() is not None  # with a key in the environment, every full statement is keyed
    spec = ReportSpec(kind="payout", format=fmt, revenue=revenue, currency=currency.upper(), detail=detail,
                      stages=stages, shared=shared, platform_fee=platform_fee, minimum_payout=minimum_payout,
                      holder=holder,
                      sign=sign, floor=floor, cap=cap, period=period, valuation=val.valuation,
                      opted_out=tuple(sorted({i.strip() for i in opted_out.split(",") if i.strip()})) if opted_out
                      else None)
    if shared not in (None, "total") and not val.parts:
        raise AttribError("the run was trained without reference texts, so its values have no shared part",
                          field="--shared", fix="leave --shared out, or train with data.reference")
    if val.per_payee:
        given = [k for k, v in {"--ledger": ledger, "--claims": claims, "--plot": plot}.items() if v]
        if given:  # escrow is carried and claimed per document, and the plot shows sample values
            raise AttribError(f"{given[0]} needs values per document, and valuation '{val.valuation}' holds them "
                              "per payee only", field=given[0], fix=f"leave {given[0]} out, or query the "
                              "generations again without --per payee")
    unknown = sorted(set(spec.opted_out or ()) - val.holder_ids)
    if unknown:
        raise AttribError(f"'{unknown[0]}' is not a holder of this run", field="--opted-out",
                          fix="give holder ids from the run's holders table, separated by commas")
    for name, amount in (("--floor", floor), ("--cap", cap)):
        if amount is not None:
            from attribcli.money.amounts import parse_amount

            parse_amount(amount, currency, field=name)
    if sign and (fmt == "csv" or holder is not None):
        raise AttribError("only full Markdown or JSON statements are signed", field="--sign",
                          fix="add --format md or --format json, without --holder")
    if plot and (fmt != "md" or output is None or str(output) == "-" or holder is not None):
        raise AttribError("--plot goes with a full Markdown statement written to a file", field="--plot",
                          fix="add --format md -o STATEMENT.md (the PNG is written next to it)")
    if plot:
        import dataclasses

        spec = dataclasses.replace(spec, plot=Path(output).with_suffix(".png").name)
    if holder is not None and fmt == "csv":
        raise AttribError("a holder's statement is Markdown or JSON", field="--format",
                          fix="add --format md or --format json (for CSV rows per generation use --detail)")
    if minimum_payout is not None:
        from attribcli.money.amounts import parse_amount

        parse_amount(minimum_payout, currency, field="--minimum-payout")
    if claims is not None and ledger is None:
        raise AttribError("claims settle escrow carried in a ledger", field="--claims", fix="add --ledger LEDGER.json")
    if ledger is None or proof_for is not None:
        _statement(val, spec, output, proof_for=proof_for, ledger=ledger, claims=claims)
        return
    from attribcli.money import ledger as ledgers

    with ledgers.posting(ledger):  # from reading the balances to the entry's atomic write: one poster at a time
        _statement(val, spec, output, proof_for=None, ledger=ledger, claims=claims)


def _survey_statement(run_dir, name, *, revenue, currency, stages, shared, platform_fee, period, valuation, fmt,
                      output, auxiliary, refused) -> None:
    """``attrib payout RUN --survey NAME``: the period's statement estimated from the survey, each line with
    its interval (reports/survey.py)."""
    from attribcli.errors import AttribError
    from attribcli.money.amounts import exponent
    from attribcli.posttrain.rundir import open_run
    from attribcli.reports.render import render
    from attribcli.reports.spec import ReportSpec
    from attribcli.valuation.valuation import Valuation

    given = [k for k, v in refused.items() if v not in (None, False)]
    if given:
        raise AttribError(f"{given[0]} does not go with --survey: a survey's statement estimates each line, and "
                          "moving, settling, posting or proving amounts needs them exact", field=given[0],
                          fix=f"leave {given[0]} out, or pay the exact generations without --survey")
    if revenue is not None:
        raise AttribError("a survey pays each generation by its own revenue (it draws by it)", field="--revenue",
                          fix="leave --revenue out")
    if valuation not in (None, name):
        raise AttribError("a survey's statement reads the survey's own valuation", field="--valuation",
                          fix="leave --valuation out")
    from attribcli.posttrain.survey import survey_manifest

    made = survey_manifest(run_dir, name)  # or one line: no such survey, and which there are (checked when read)
    auxiliary = auxiliary or ("index" if made.get("index") else "none")
    val = Valuation(open_run(run_dir, name, behind=True))
    if currency is None:
        from attribcli.config import payout_policy

        currency = payout_policy(val.config_path).currency
    exponent(currency, field="--currency")
    if shared not in (None, "total") and not val.parts:
        raise AttribError("the run was trained without reference texts, so its values have no shared part",
                          field="--shared", fix="leave --shared out, or train with data.reference")
    spec = ReportSpec(kind="payout", format=fmt, currency=currency.upper(), stages=stages, shared=shared,
                      platform_fee=platform_fee, period=period, valuation=name, survey=name, auxiliary=auxiliary)
    _emit(render(val, spec), output)


def _statement(val, spec, output, *, proof_for, ledger, claims) -> None:
    """Render (and with ``ledger``, settle and post) one statement; the ledger's lock is the caller's."""
    import dataclasses

    book, balances, key = None, {}, None
    if ledger is not None:
        from attribcli.money import ledger as ledgers
        from attribcli.reports.statement import statement_id

        key = ledgers.signing_key()
        book = ledgers.load(ledger, spec.currency, key=key)
        carried, claimed, balances = ledgers.opening(book, statement_id(val, spec), claims, val, spec.period)
        spec = dataclasses.replace(spec, carried_in=tuple(sorted((k, v) for k, v in carried.items() if v)) or None,
                                   claims=tuple(sorted(claimed.items())) or None)
    if proof_for is not None:
        import json

        from attribcli.reports.statement import line_proof

        _emit(json.dumps(line_proof(val, spec, proof_for), indent=2, ensure_ascii=False) + "\n", output)
        return
    from attribcli.reports.statement import build, render_statement

    stmt = build(val, spec)  # computed once: rendered, plotted and recorded from the same numbers
    text = render_statement(val, spec, stmt)
    if spec.plot:
        from attribcli.reports.plots import write_payout_plot

        png = Path(output).with_name(spec.plot)
        _confirm_reads()
        _writing(png, "--plot", lambda: write_payout_plot(val, stmt.payout, png, title=f"Run {val.name}"))
    try:
        _emit(text, output)
    except AttribError:
        if spec.plot:
            png.unlink(missing_ok=True)  # no partial output: the PNG goes only with its statement
        raise
    if book is not None:
        from attribcli.money import ledger as ledgers
        from attribcli.money.payout import escrow_by_document

        claimed = dict(spec.claims or ())
        per_doc = escrow_by_document(val, stmt.payout)
        escrow_docs = {d: balances.get(d, 0) + per_doc.get(d, 0) for d in set(balances) | set(per_doc)
                       if d not in claimed}
        ledgers.record(ledger, book, statement=stmt.id, root=stmt.root, settlement=stmt.settlement,
                       claims=claimed, escrow_documents=escrow_docs, period=spec.period, key=key)


@main.command()
@click.argument("run_dir", required=False, type=click.Path(path_type=Path))
@click.argument("report", required=False, type=click.Path(path_type=Path))
@click.option("--line", "line", type=click.Path(dir_okay=False, path_type=Path),
              help="A payee's line proof (from payout --proof-for) to check against --root/--size or REPORT.")
@click.option("--root", help="The statement's published Merkle root (with --line).")
@click.option("--size", type=click.IntRange(min=1), help="The statement's published number of lines (with --line).")
@click.option("--ledger", type=click.Path(dir_okay=False, path_type=Path),
              help="Check the ledger's hash chain, and that REPORT's settlement is the one it recorded.")
@_VALUATION
@_user_errors
def verify(run_dir, report, line, root, size, ledger, valuation):
    """Check a run's hashes and re-derive REPORT from it: exit 0 if intact, 1 with the first difference.

    With --line, check one payee's line proof; against a statement's published --root and --size, or
    against REPORT (a JSON or Markdown statement re-derived from RUN_DIR)."""
    from attribcli.audit.verify import verify as run_verify
    from attribcli.audit.verify import verify_line
    from attribcli.errors import AttribError

    if line is None and run_dir is None and ledger is None:
        raise AttribError("nothing to verify", field="RUN_DIR",
                          fix="pass a run directory, --line PROOF or --ledger LEDGER")
    problems = run_verify(run_dir, report, valuation) if run_dir is not None else []
    if line is not None:
        problems += verify_line(line, root=root, size=size, report=report if run_dir is not None else None)
    if ledger is not None:
        from attribcli.audit.verify import verify_ledger

        found, ledger_checked = verify_ledger(ledger, run_dir=run_dir, report=report)
        problems += found
    if problems:
        for p in problems:
            click.echo(f"FAILED: {p}", err=True)
        sys.exit(1)
    said = [f"{run_dir} matches its manifest"] if run_dir else []
    if report:
        from attribcli.audit.verify import read_spec

        signed = run_dir is not None and read_spec(Path(report).read_text(encoding="utf-8"), str(report))[0].sign
        said += [f"{report} re-derives exactly" + (", its HMAC signature checked with ATTRIB_SIGNING_KEY" if signed
                                                   else " (unsigned)")]
    said += [f"{line}: the line is in the statement"] if line else []
    if ledger:
        said += [f"{ledger}: {ledger_checked}"]
    click.echo("OK: " + "; ".join(said))


if __name__ == "__main__":  # pragma: no cover
    main()
