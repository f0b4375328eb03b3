"""``attrib generate``: complete each prompt with the run's fine-tuned model, one generations-format line each.

Everything is checked (the run, its model, every prompt) before the first token is drawn, and the output is
written once, atomically: a bad prompt costs one line and exit 2 with nothing written. Each prompt gets its
own generator seeded from ``seed`` and its position, so a prompt's completion does not depend on the prompts
before it and the same file and seed give the same text.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from attribcli.data.generations import Generation, load_prompts
from attribcli.model.decode import complete
from attribcli.posttrain.rundir import check_reads, finished, load_model, run_config

GENERATED = "generated"  # the valuation of a config's data.generation_prompts


def generate_and_replay(run_dir: Path, *, processes: int = 1, log=print) -> Path:
    """``data.generation_prompts``: complete them with the run's fine-tuned model (the config's generate
    section) and value the completions by replay, as valuation ``generated``; a run killed on the way
    continues where it stopped (the completions are the same text again)."""
    from attribcli.files import atomic_write_text, sha256_path
    from attribcli.posttrain.replay import replay
    from attribcli.posttrain.rundir import VALUATIONS, partial_dir

    run_dir = Path(run_dir)
    out = run_dir / VALUATIONS / GENERATED
    if out.is_dir():
        return out
    config = run_config(finished(run_dir))
    g, prompts = config.generate, config.data.generation_prompts
    text = generate(run_dir, prompts, max_new_tokens=g.max_new_tokens, temperature=g.temperature, top_p=g.top_p,
                    seed=g.seed, log=log)
    completions = run_dir / VALUATIONS / f".{GENERATED}.jsonl"  # the replay keeps its own hashed copy
    atomic_write_text(completions, text)
    how = {"prompts": str(prompts), "prompts_sha256": sha256_path(prompts), "max_new_tokens": g.max_new_tokens,
           "temperature": g.temperature, "top_p": g.top_p, "seed": g.seed}
    resume = partial_dir(out).is_dir()
    if processes > 1:  # a data-parallel run replays on its own processes
        from attribcli.errors import AttribError
        from attribcli.training.launch import torchrun

        args = ["replay", str(run_dir), "--generations", str(completions), "--name", GENERATED]
        if torchrun(args + (["--resume"] if resume else []), processes, log):
            raise AttribError("the replay of the generated completions stopped (see above)", file=str(run_dir),
                              fix=f"continue with 'attrib train CONFIG --resume --nproc {processes}'")
    else:
        replay(run_dir, completions, GENERATED, resume=resume, log=log, generated=how)
    completions.unlink(missing_ok=True)
    return out


def generate(run_dir: Path, prompts_path: Path, *, max_new_tokens: int, temperature: float, top_p: float,
             seed: int, log=print) -> str:
    """The JSONL text of the completions (``id, prompt, completion[, revenue]``)."""
    run = finished(run_dir)  # its values are not needed: a run trained without generations generates too
    check_reads(run, ("config.yaml", "model.pt"))  # the weights and settings as trained, or a one-line refusal
    config = run_config(run)
    model, tok, context = load_model(run, config)
    prompts = load_prompts(prompts_path, context_length=context, currency=config.payout.currency, tokenizer=tok)
    eos = getattr(getattr(tok, "tok", None), "eos_token_id", None)  # a Hugging Face tokenizer's end of text
    stop = frozenset({tok.bos_id} | ({eos} if isinstance(eos, int) else set()))
    lines = []
    for i, p in enumerate(prompts):
        gen = torch.Generator().manual_seed(seed * 1_000_003 + i)
        ids = complete(model, list(p.ids), max_new_tokens=max_new_tokens, context_length=context,
                       temperature=temperature, top_p=top_p, generator=gen, stop_ids=stop)
        text = tok.decode(ids)
        # re-encoded, a decoded text can take more tokens than were drawn: trim until it fits as valuation
        # counts it (load_generations), so the output is always a valid generations file
        while len(ids) > 1 and len(Generation(p.id, p.prompt, text, None).tokens(tok)[0]) - 1 > context:
            ids = ids[:-1]
            text = tok.decode(ids)
        rec = {"id": p.id, "prompt": p.prompt, "completion": text}
        if p.revenue is not None:
            rec["revenue"] = p.revenue
        lines.append(json.dumps(rec, ensure_ascii=False) + "\n")
        log(f"{p.id}: {len(ids)} tokens")
    return "".join(lines)
