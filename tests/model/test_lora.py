"""LoRA: values over the adapters only equal brute force (first and second order), merging is exact,
and a run with model.lora trains, values and writes a plain model.pt."""

import json

import pytest
import torch
from click.testing import CliRunner
from torch.func import functional_call

from attribcli.cli import main
from attribcli.inrun.tracker import GhostTracker
from attribcli.model.gpt import GPT, GPTConfig, load_base_weights, sequence_losses
from attribcli.model.lora import LoRA, apply_lora, merge_lora
from tests.helpers import batch, brute_dots, capture_step
from tests.runs import write_config

CFG = GPTConfig(vocab_size=7, context_length=8, n_layer=1, n_head=1, n_embd=4)


def _lora_gpt(seed=0, targets=()):
    torch.manual_seed(seed)
    model = GPT(CFG).double()
    layers = apply_lora(model, rank=2, alpha=3.0, targets=list(targets), head=model.lm_head)
    with torch.no_grad():  # B starts at zero: move it so A's gradient is not zero too
        for m in model.modules():
            if isinstance(m, LoRA):
                m.lora_B.weight.normal_(0, 0.3)
    return model.double(), layers


def _data(seed=1):
    gen = torch.Generator().manual_seed(seed)
    train = batch([torch.randint(0, 7, (n,), generator=gen).tolist() for n in (8, 6, 9)])
    target = batch([torch.randint(0, 7, (n,), generator=gen).tolist() for n in (7, 9)], loss_from=[2, 4])
    return train, target


def test_only_the_adapters_are_trainable_and_tracked():
    model, layers = _lora_gpt()
    assert layers == ["blocks.0.attn.qkv", "blocks.0.attn.proj", "blocks.0.mlp.fc", "blocks.0.mlp.proj"]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_A." in n or ".lora_B." in n for n in trainable)
    tracker = GhostTracker(model)
    assert {n.rsplit(".", 1)[-1] for n, _ in tracker.layers} == {"lora_A", "lora_B"}
    assert apply_lora(GPT(CFG), 2, 1.0, ["nothing"], None) == []


def test_lora_values_equal_brute_force_over_the_adapters():
    model, _ = _lora_gpt(targets=("qkv", "fc"))
    train, target = _data()
    want = brute_dots(model, train, target)  # gradients of the trainable (adapter) weights only
    tracker = GhostTracker(model)
    capture_step(model, tracker, train, target)
    torch.testing.assert_close(tracker.dots(), want, rtol=1e-6, atol=1e-12)
    assert want.abs().max() > 1e-6


def test_lora_second_order_direction_equals_explicit_hessian():
    model, _ = _lora_gpt(2)
    train, target = _data(3)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    shapes = [p.shape for n, p in model.named_parameters() if p.requires_grad]
    flat0 = torch.cat([p.detach().flatten() for p in model.parameters() if p.requires_grad])
    vx, vy, vm = target

    def loss(flat, j):
        params, i = {}, 0
        for n, s in zip(names, shapes):
            params[n] = flat[i:i + s.numel()].view(s)
            i += s.numel()
        return sequence_losses(functional_call(model, params, (vx[j:j + 1],)), vy[j:j + 1], vm[j:j + 1]).sum()

    gen = torch.Generator().manual_seed(4)
    d = {n: torch.randn(s, generator=gen, dtype=torch.float64) for n, s in zip(names, shapes)}
    tracker = GhostTracker(model)
    h = tracker.hessian_directions(lambda f, x, y, m: sequence_losses(f(x), y, m), target, d)
    owner = {id(p): (ln, pn) for ln, mod in tracker.layers for pn, p in mod.named_parameters(recurse=False)}
    trainable = [p for p in model.parameters() if p.requires_grad]
    got = torch.stack([torch.cat([h[owner[id(p)][0]][owner[id(p)][1]][j].flatten() for p in trainable])
                       for j in range(2)])
    flat_d = torch.cat([d[n].flatten() for n in names])
    want = torch.stack([torch.autograd.functional.hessian(lambda f: loss(f, j), flat0) @ flat_d for j in range(2)])
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-10)


def test_merging_gives_the_same_model_as_a_plain_gpt():
    model, _ = _lora_gpt(5)
    x = torch.randint(0, 7, (2, 8))
    before = model(x)
    merged = merge_lora(model)
    assert not any(isinstance(m, LoRA) for m in merged.modules())
    assert set(merged.state_dict()) == set(GPT(CFG).state_dict())
    torch.testing.assert_close(merged(x), before, rtol=1e-10, atol=1e-12)


def test_hf_gpt2_conv1d_adapters_equal_brute_force_and_merge():
    transformers = pytest.importorskip("transformers")
    from attribcli.model.hf import HFCausalLM

    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=8, n_positions=16, vocab_size=7,
                                  bos_token_id=0, eos_token_id=0)
    cfg._attn_implementation = "eager"
    model = HFCausalLM(transformers.GPT2LMHeadModel(cfg)).double()
    layers = apply_lora(model, 2, 2.0, ["c_attn", "c_proj"], model.hf.get_output_embeddings())
    block = "hf.transformer.h.0."
    assert layers == [block + "attn.c_attn", block + "attn.c_proj", block + "mlp.c_proj"]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LoRA):
                m.lora_B.weight.normal_(0, 0.3)
    model = model.double()
    train, target = _data(6)
    want = brute_dots(model, train, target)
    tracker = GhostTracker(model)
    capture_step(model, tracker, train, target)
    torch.testing.assert_close(tracker.dots(), want, rtol=1e-6, atol=1e-12)
    x = train[0]
    before = model(x)
    torch.testing.assert_close(merge_lora(model)(x), before, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("optimizer,attribution", [("sgd", {"rule": "taylor", "order": 2}),
                                                    ("adamw", {"rule": "taylor"}),
                                                    ("adamw", {"rule": "path", "path_tolerance": 1e-9})])
def test_a_lora_run_trains_values_and_writes_a_plain_model(tmp_path, optimizer, attribution):
    cfg = write_config(tmp_path, model={"n_layer": 1, "n_head": 2, "n_embd": 32, "context_length": 256,
                                        "lora": {"rank": 4, "alpha": 8, "targets": ["qkv", "fc"]}},
                       training__max_steps=3, training__optimizer=optimizer, attribution=attribution)
    r = CliRunner().invoke(main, ["train", str(cfg)])
    assert r.exit_code == 0, r.output
    run = tmp_path / "run"
    method = json.loads((run / "manifest.json").read_text())["method"]
    assert method["parameters"].startswith("LoRA adapters only (rank 4, alpha 8.0, 2 layers)")
    import numpy as np

    values = np.load(run / "values.npy")
    assert np.abs(values).max() > 0 and np.isfinite(values).all()
    plain = GPT(GPTConfig(257, 256, 1, 2, 32))
    load_base_weights(plain, run / "model.pt", config_file="test")  # merged: a plain GPT's weights


def test_lora_targets_matching_nothing_is_one_line_exit_2(tmp_path):
    cfg = write_config(tmp_path, model={"n_layer": 1, "n_head": 2, "n_embd": 32, "context_length": 256,
                                        "lora": {"targets": ["q_proj"]}})
    r = CliRunner().invoke(main, ["train", str(cfg)])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "model.lora.targets" in r.output and "q_proj" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_a_run_without_lora_trains_every_weight(tmp_path):
    cfg = write_config(tmp_path, training__max_steps=1)
    r = CliRunner().invoke(main, ["train", str(cfg)])
    assert r.exit_code == 0, r.output
    method = json.loads((tmp_path / "run/manifest.json").read_text())["method"]
    assert method["parameters"] == "every weight of the model"
    assert "wte" in r.output and "lora_A" not in r.output  # the run log's per-layer routes
