"""Hugging Face models: local loading, the HF layer rules, tied-embedding cross terms, whole-model ghost dots.

Every model here is a tiny random one built in the test (GPT-2, Llama, GPT-NeoX) with a tokenizer
trained on four sentences: nothing is downloaded. Rules are checked in float64 against brute-force
per-sample gradients (1e-6 relative), like tests/inrun/test_rules.py.

The rule registry is process-global and tests/inrun/test_rules.py checks its exact contents, so the
HF rules are imported by a fixture and the registry is restored when this module's tests are done.
"""

import copy
import sys

import pytest

pytest.importorskip("transformers")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # noqa: E402
from torch.func import functional_call  # noqa: E402
from transformers import (  # noqa: E402
    GPT2Config,
    GPT2LMHeadModel,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)
from transformers.models.llama.modeling_llama import LlamaRMSNorm  # noqa: E402
from transformers.pytorch_utils import Conv1D  # noqa: E402

from attribcli.errors import AttribError  # noqa: E402
from attribcli.inrun.rules import RULES, EmbeddingRule, rule_for  # noqa: E402
from attribcli.inrun.tracker import GhostTracker  # noqa: E402
from attribcli.model.gpt import sequence_losses  # noqa: E402
from attribcli.model.hf import HFCausalLM, HFTokenizer, load_hf  # noqa: E402
from tests.helpers import batch, brute_dots, capture_step, one_line  # noqa: E402
from tests.inrun.test_rules import _check, _directions_check  # noqa: E402

V = 60
SENTENCES = ["the cat sat on the mat.", "a dog ran in the park!",
             "we pay the people whose data trained it", "Hello, world: 42 tokens?"]
_HF_RULES: dict = {}


@pytest.fixture(scope="module", autouse=True)
def hf_rules():
    """Import attribcli.inrun.hf_rules (which registers its rules), undo the registration afterwards."""
    before = dict(RULES)
    import attribcli.inrun.hf_rules as mod
    if not _HF_RULES:
        _HF_RULES.update({k: v for k, v in RULES.items() if k not in before})
    RULES.update(_HF_RULES)
    yield mod
    RULES.clear()
    RULES.update(before)


# --- tiny models and tokenizer -------------------------------------------------------------------

def _config(kind: str, **over):
    if kind == "gpt2":
        cfg = GPT2Config(n_layer=2, n_head=2, n_embd=16, n_positions=32, vocab_size=V,
                         bos_token_id=0, eos_token_id=0)
    elif kind == "llama":
        cfg = LlamaConfig(vocab_size=V, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                          num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32,
                          tie_word_embeddings=False, bos_token_id=0, eos_token_id=0, pad_token_id=None)
    elif kind == "neox":
        cfg = GPTNeoXConfig(vocab_size=V, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                            num_attention_heads=2, max_position_embeddings=32, bos_token_id=0, eos_token_id=0)
    else:
        raise ValueError(kind)
    for k, v in over.items():
        setattr(cfg, k, v)
    return cfg


_CLASSES = {"gpt2": GPT2LMHeadModel, "llama": LlamaForCausalLM, "neox": GPTNeoXForCausalLM}


def _hf_model(kind: str, seed: int = 0, **over) -> nn.Module:
    """A tiny random model, every parameter perturbed (non-zero biases, norm weights away from 1)."""
    torch.manual_seed(seed)
    cfg = _config(kind, **over)
    cfg._attn_implementation = "eager"
    model = _CLASSES[kind](cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def _no_dropout(model: nn.Module) -> nn.Module:
    for k in ("attn_pdrop", "embd_pdrop", "resid_pdrop"):
        if hasattr(model.config, k):
            setattr(model.config, k, 0.0)
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    return model


def _tokenizer(bos: bool = True, eos: bool = True) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(SENTENCES, trainers.BpeTrainer(vocab_size=V, special_tokens=["<|endoftext|>"],
                                                           show_progress=False))
    special = {}
    if bos:
        special["bos_token"] = "<|endoftext|>"
    if eos:
        special["eos_token"] = "<|endoftext|>"
    return PreTrainedTokenizerFast(tokenizer_object=tok, **special)


def _save(tmp_path, model, tok=None):
    d = tmp_path / "ckpt"
    model.save_pretrained(d)
    if tok is not None:
        tok.save_pretrained(d)
    return d


def _data(seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    train = batch([torch.randint(1, V, (n,), generator=gen).tolist() for n in (9, 12, 7)])
    target = batch([torch.randint(1, V, (n,), generator=gen).tolist() for n in (6, 10)], loss_from=[2, 5])
    return train, target


# --- load_hf ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["gpt2", "llama", "neox"])
def test_load_hf_round_trip(tmp_path, kind):
    hf, tok = _hf_model(kind), _tokenizer()
    d = _save(tmp_path, hf, tok)
    model, tokenizer = load_hf(d)
    assert isinstance(model, HFCausalLM) and isinstance(tokenizer, HFTokenizer)
    assert model.context_length == 32 and model.vocab_size == V
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.hf.config._attn_implementation == "eager"

    idx = torch.randint(0, V, (2, 5))
    logits = model(idx)
    assert logits.shape == (2, 5, V)
    with torch.no_grad():
        torch.testing.assert_close(logits, hf(input_ids=idx).logits, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="context length"):
        model(torch.zeros(1, 33, dtype=torch.long))

    text = "the cat ran in the park"
    ids = tokenizer.encode(text)
    assert ids and tokenizer.bos_id not in ids  # no special tokens added
    assert tokenizer.decode(ids) == text
    assert tokenizer.decode([tokenizer.bos_id] + ids) == text  # BOS dropped, like ByteTokenizer
    assert tokenizer.bos_id == tok.convert_tokens_to_ids("<|endoftext|>")
    assert tokenizer.vocab_size == len(tok) <= model.vocab_size


def test_load_hf_turns_off_dropout_and_upcasts(tmp_path):
    hf = _hf_model("gpt2")  # GPT-2's config has 0.1 dropout everywhere
    assert hf.config.attn_pdrop == 0.1
    d = _save(tmp_path, hf.to(torch.bfloat16), _tokenizer())
    model, _ = load_hf(d)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.hf.config.attn_pdrop == model.hf.config.resid_pdrop == model.hf.config.embd_pdrop == 0.0
    model.train()
    assert model.training and not model.hf.training
    idx = torch.randint(0, V, (2, 7))
    assert torch.equal(model(idx), model(idx))


def test_bos_falls_back_to_eos(tmp_path):
    d = _save(tmp_path, _hf_model("neox"), _tokenizer(bos=False))
    _, tokenizer = load_hf(d)
    assert tokenizer.bos_id == tokenizer.tok.eos_token_id is not None


def _err(path, **kw) -> AttribError:
    with pytest.raises(AttribError) as info:
        load_hf(path, config_file="cfg.yaml", **kw)
    return info.value


def test_load_hf_errors_are_one_line_naming_the_field(tmp_path, monkeypatch):
    msg = one_line(_err(tmp_path / "nope"), "cfg.yaml", "model.path", "directory not found")

    empty = tmp_path / "empty"
    empty.mkdir()
    msg = one_line(_err(empty), "model.path", "config.json", "not a Hugging Face checkpoint")

    from transformers import ViTConfig, ViTModel
    vit = _save(tmp_path / "vit", ViTModel(ViTConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                                        intermediate_size=8, image_size=8, patch_size=4)))
    msg = one_line(_err(vit), "model.path", "'vit' checkpoint, not a causal language model")

    cfg_only = tmp_path / "cfg_only"
    _config("gpt2").save_pretrained(cfg_only)
    msg = one_line(_err(cfg_only), "model.path", "cannot load the model")

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    msg = one_line(_err(bad), "model.path", "cannot read")

    no_tok = _save(tmp_path / "no_tok", _hf_model("gpt2"))
    msg = one_line(_err(no_tok), "model.path", "no tokenizer")

    neither = _save(tmp_path / "neither", _hf_model("gpt2"), _tokenizer(bos=False, eos=False))
    msg = one_line(_err(neither), "model.path", "neither a BOS nor an EOS")

    big = _save(tmp_path / "big", _hf_model("gpt2", vocab_size=40), _tokenizer())
    msg = one_line(_err(big), "model.path", "tokenizer has")

    monkeypatch.setitem(sys.modules, "transformers", None)  # as if not installed
    msg = one_line(_err(tmp_path), "model.path", "'transformers' package", 'pip install "attribcli[hf]"')
    assert msg


# --- layer rules -----------------------------------------------------------------------------------

def test_importing_hf_rules_registers_them(hf_rules):
    assert isinstance(rule_for(Conv1D(3, 2)), hf_rules.Conv1DRule)
    assert isinstance(rule_for(LlamaRMSNorm(4)), hf_rules.RMSNormRule)


@pytest.mark.parametrize("route", ["ghost", "project", "materialize", "auto"])
def test_conv1d_rule_matches_brute_force(hf_rules, route):
    layer = Conv1D(7, 5).double()  # nf=7 outputs, nx=5 inputs: weight [5, 7]
    with torch.no_grad():
        layer.bias.normal_()
    _check(layer, lambda layer, a: layer(a), torch.randn(3, 4, 5, dtype=torch.float64),
           torch.randn(2, 6, 5, dtype=torch.float64), 7, rule=hf_rules.Conv1DRule(route))


def test_conv1d_rule_with_extra_token_dims():
    layer = Conv1D(4, 3).double()
    _check(layer, lambda layer, a: layer(a), torch.randn(2, 3, 2, 3, dtype=torch.float64),
           torch.randn(3, 2, 2, 3, dtype=torch.float64), 4)


def test_conv1d_target_grads_and_direction_dots():
    layer = Conv1D(7, 5).double()
    with torch.no_grad():
        layer.bias.normal_()
    _directions_check(layer, torch.randn(3, 4, 5, dtype=torch.float64), torch.randn(2, 6, 5, dtype=torch.float64), 7)
    assert rule_for(layer).target_grads(layer, torch.randn(2, 3, 5, dtype=torch.float64),
                                        torch.randn(2, 3, 7, dtype=torch.float64))["weight"].shape == (2, 5, 7)


def _rmsnorm(cls, d=5, eps=1e-5):
    layer = cls(d, eps=eps).double()
    with torch.no_grad():
        layer.weight.normal_()
    return layer


@pytest.mark.parametrize("shape_x,shape_y", [((3, 4, 5), (2, 6, 5)),            # [N, T, d]
                                             ((3, 4, 2, 5), (2, 3, 2, 5))])     # per-head q/k norm
def test_rmsnorm_rule_matches_brute_force(shape_x, shape_y):
    layer = _rmsnorm(LlamaRMSNorm)
    a_x, a_y = torch.randn(*shape_x, dtype=torch.float64), torch.randn(*shape_y, dtype=torch.float64)
    _check(layer, lambda layer, a: layer(a), a_x, a_y, 5)


def test_rmsnorm_target_grads_and_direction_dots():
    _directions_check(_rmsnorm(LlamaRMSNorm), torch.randn(3, 4, 5, dtype=torch.float64),
                      torch.randn(2, 6, 5, dtype=torch.float64), 5)


def test_rmsnorm_rule_recomputes_the_float32_normalization():
    """LlamaRMSNorm normalizes in float32 even for float64 input: the rule must round the same way."""
    layer = _rmsnorm(LlamaRMSNorm)
    a = torch.randn(2, 3, 5, dtype=torch.float64)
    x = a.float()
    exact64 = a * torch.rsqrt(a.pow(2).mean(-1, keepdim=True) + 1e-5)
    assert not torch.equal(layer(a), layer.weight * exact64)  # the float32 rounding is visible
    torch.testing.assert_close(layer(a), layer.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True)
                                                                       + 1e-5)).double(), rtol=0, atol=0)


def test_rmsnorm_per_sample_gradient_is_bitwise_close_to_autograd():
    """Tighter than the 1e-6 checks: normalizing in float64 instead of float32 would be off by ~1e-7."""
    layer = _rmsnorm(LlamaRMSNorm)
    a, b = torch.randn(3, 4, 5, dtype=torch.float64), torch.randn(3, 4, 5, dtype=torch.float64)
    want = torch.stack([torch.autograd.grad((layer(a[i]) * b[i]).sum(), layer.weight)[0] for i in range(3)])
    torch.testing.assert_close(rule_for(layer).target_grads(layer, a, b)["weight"], want, rtol=1e-13, atol=1e-14)


def test_register_model_norms_takes_known_forms_only(hf_rules):
    qwen3 = pytest.importorskip("transformers.models.qwen3.modeling_qwen3")
    olmo2 = pytest.importorskip("transformers.models.olmo2.modeling_olmo2")
    gemma = pytest.importorskip("transformers.models.gemma.modeling_gemma")
    model = nn.ModuleList([qwen3.Qwen3RMSNorm(5), olmo2.Olmo2RMSNorm(5), gemma.GemmaRMSNorm(5), LlamaRMSNorm(5)])
    added = hf_rules.register_model_norms(model)
    assert set(added) == {qwen3.Qwen3RMSNorm, olmo2.Olmo2RMSNorm}  # Gemma scales by (1 + w): not this rule
    assert rule_for(gemma.GemmaRMSNorm(5)) is None
    assert rule_for(olmo2.Olmo2RMSNorm(5)).cast_before_scale is False
    assert hf_rules.register_model_norms(model) == []  # already covered
    for cls in (qwen3.Qwen3RMSNorm, olmo2.Olmo2RMSNorm):
        _check(_rmsnorm(cls), lambda layer, a: layer(a), torch.randn(3, 4, 5, dtype=torch.float64),
               torch.randn(2, 6, 5, dtype=torch.float64), 5)


# --- tied embedding / head cross terms ------------------------------------------------------------

class _TiedLinearHead(nn.Module):
    """Embedding and a Linear LM head sharing one [V, d] weight, with causal token mixing in between."""

    def __init__(self, vocab, d, padding_idx=None):
        super().__init__()
        self.emb = nn.Embedding(vocab, d, padding_idx=padding_idx)
        self.mix = nn.Linear(d, d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.emb.weight
        self.shared = self.emb.weight

    def forward(self, ids):
        h = self.emb(ids)
        h = torch.tanh(self.mix(h)).cumsum(1) / torch.arange(1, ids.shape[1] + 1, dtype=h.dtype)[:, None]
        return self.head(h)


class _TiedConv1D(nn.Module):
    """Embedding and a Conv1D ``y = p W`` (W the same [V, d] matrix, so p is over the vocabulary)."""

    def __init__(self, vocab, d, padding_idx=None):
        super().__init__()
        self.emb = nn.Embedding(vocab, d, padding_idx=padding_idx)
        self.to_vocab = nn.Linear(d, vocab)
        self.conv = Conv1D(d, vocab)  # nf = d, nx = vocab: weight [vocab, d]
        self.conv.weight = self.emb.weight
        self.conv.bias.requires_grad_(False)
        self.head = nn.Linear(d, vocab)
        self.shared = self.emb.weight

    def forward(self, ids):
        h = torch.tanh(self.emb(ids)).cumsum(1)
        return self.head(self.conv(self.to_vocab(h).softmax(-1)))


def _captures(model, head, ids, y, m):
    """Batch forward: per-sample losses summed, one backward; a/b of the embedding and the head."""
    store = {}

    def hook(mod, inputs, output):
        output.retain_grad()
        store[mod] = (inputs[0].detach(), output)
    handles = [model.emb.register_forward_hook(hook), head.register_forward_hook(hook)]
    sequence_losses(model(ids), y, m).sum().backward()
    for h in handles:
        h.remove()
    model.zero_grad()
    (a_e, out_e), (a_h, out_h) = store[model.emb], store[head]
    return a_e, out_e.grad.detach(), a_h, out_h.grad.detach()


def _brute_shared(model, data):
    x, y, m = data
    out = []
    for i in range(x.shape[0]):
        g, = torch.autograd.grad(sequence_losses(model(x[i:i + 1]), y[i:i + 1], m[i:i + 1]).sum(), model.shared)
        out.append(g.flatten())
    return torch.stack(out)


@pytest.mark.parametrize("padding_idx", [None, 0])
@pytest.mark.parametrize("kind", ["linear", "conv1d"])
def test_tied_embedding_head_cross_terms_match_brute_force(hf_rules, kind, padding_idx):
    torch.manual_seed(3)
    vocab, d = 9, 4
    model = (_TiedLinearHead if kind == "linear" else _TiedConv1D)(vocab, d, padding_idx).double()
    head = model.head if kind == "linear" else model.conv
    assert head.weight is model.emb.weight
    gen = torch.Generator().manual_seed(4)
    # Repeated ids and, with padding_idx=0, zeros inside the sequences (id 0 used as an ordinary input).
    train = batch([torch.randint(0, vocab, (n,), generator=gen).tolist() for n in (7, 9, 5)])
    target = batch([torch.randint(0, vocab, (n,), generator=gen).tolist() for n in (6, 8)], loss_from=[1, 3])
    want = _brute_shared(model, train) @ _brute_shared(model, target).T

    ids_x, be_x, ah_x, bh_x = _captures(model, head, *train)
    ids_y, be_y, ah_y, bh_y = _captures(model, head, *target)
    same = EmbeddingRule().pair_dots(model.emb, ids_x, be_x, ids_y, be_y) \
        + rule_for(head).pair_dots(head, ah_x, bh_x, ah_y, bh_y)
    cross = hf_rules.tied_embedding_head_dots(model.emb, ids_x, be_x, ids_y, be_y, kind, ah_x, bh_x, ah_y, bh_y)
    assert cross.shape == (3, 2)
    assert cross.abs().max() > 1e-3 * want.abs().max()  # the cross terms matter: leaving them out is wrong
    torch.testing.assert_close(cross, want - same, rtol=1e-6, atol=1e-12 * want.abs().max().item())
    torch.testing.assert_close(same + cross, want, rtol=1e-6, atol=1e-12)


def test_tied_head_kind_is_checked(hf_rules):
    z = torch.zeros(1, 1, 1)
    with pytest.raises(ValueError, match="head_kind"):
        hf_rules.tied_embedding_head_dots(nn.Embedding(2, 1), torch.zeros(1, 1, dtype=torch.long), z,
                                          torch.zeros(1, 1, dtype=torch.long), z, "tied", z, z, z, z)


# --- whole models through GhostTracker --------------------------------------------------------------

@pytest.mark.parametrize("kind", ["llama", "neox", "gpt2"])
def test_whole_untied_model_ghost_dots_equal_brute_force(kind):
    over = {"tie_word_embeddings": False} if kind == "gpt2" else {}
    model = HFCausalLM(_no_dropout(_hf_model(kind, **over))).double()
    if kind == "gpt2":  # Conv1D projections and a learned position embedding (per-sample position ids)
        assert model.hf.lm_head.weight is not model.hf.transformer.wte.weight
    train, target = _data()
    want = brute_dots(model, train, target)
    tracker = GhostTracker(model)
    capture_step(model, tracker, train, target)
    got = tracker.dots()
    assert got.shape == (3, 2)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("shared", [True, False], ids=["kept-per-sample", "formed-per-sample"])
@pytest.mark.parametrize("budget", [1, 300, 1 << 25], ids=["one-row-slices", "some", "all-at-once"])
def test_stream_through_conv1d_and_the_tied_head_equals_the_whole_model(hf_rules, budget, shared):
    """GPT-2's Conv1D layers store their weight transposed, so the stream takes their products in the target
    gradients' memory order (stream._scaled, _mv): the same numbers as the whole-model directions, at every
    block and slice size, with the tied head."""
    from attribcli.inrun.stream import Job, streamed_dots
    from tests.inrun.test_stream import _whole
    model = HFCausalLM(_no_dropout(_hf_model("gpt2"))).double()
    train, target = _data()
    tracker = GhostTracker(model)
    capture_step(model, tracker, train, target, shared=shared)
    gen = torch.Generator().manual_seed(3)
    params = dict(model.named_parameters())
    K = {n: torch.rand(p.shape, generator=gen, dtype=p.dtype) + 0.5 for n, p in params.items()}
    vec = {n: torch.randn(p.shape, generator=gen, dtype=p.dtype) for n, p in params.items()}
    (dots,), (carry,) = streamed_dots(tracker, [Job(tracker.captured("train"), K)], [vec], tracker.param_names(),
                                      budget=budget)
    want_dots, want_carry = _whole(tracker, K, vec)
    torch.testing.assert_close(dots, want_dots, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(carry, want_carry, rtol=1e-10, atol=1e-13)


def test_tied_gpt2_is_untied_twin_plus_cross_terms(hf_rules):
    """How tied GPT-2 can be valued: <E_x+H_x, E_y+H_y> = the dots of an untied twin (which hold <E_x,E_y>
    and <H_x,H_y>) + tied_embedding_head_dots on the wte / lm_head captures of the same passes."""
    tied = _no_dropout(_hf_model("gpt2"))
    assert tied.lm_head.weight is tied.transformer.wte.weight
    cfg = copy.deepcopy(tied.config)
    cfg.tie_word_embeddings = False
    twin = _no_dropout(GPT2LMHeadModel(cfg))
    twin.load_state_dict(tied.state_dict())
    with torch.no_grad():
        twin.lm_head.weight.copy_(tied.lm_head.weight)
    assert twin.lm_head.weight is not twin.transformer.wte.weight
    tied, twin = HFCausalLM(tied).double(), HFCausalLM(twin).double()

    train, target = _data(5)
    want = brute_dots(tied, train, target)
    tracker = GhostTracker(twin)
    wte, lm_head = twin.hf.transformer.wte, twin.hf.lm_head
    phase, seen = ["train"], {}

    def keep(mod, inputs, output):  # registered after the tracker's hooks: sees the output they return
        output.retain_grad()
        seen[(phase[0], mod)] = (inputs[0].detach(), output)
    handles = [wte.register_forward_hook(keep), lm_head.register_forward_hook(keep)]
    x, y, m = train
    vx, vy, vm = target
    with tracker.capture("train"):
        train_loss = sequence_losses(twin(x), y, m).mean()
    phase[0] = "target"
    with tracker.capture("target"):
        target_losses = sequence_losses(twin(vx), vy, vm)
    (train_loss + target_losses.sum()).backward()
    for h in handles:
        h.remove()
    untied = tracker.dots()
    (ex, ex_out), (ey, ey_out) = seen[("train", wte)], seen[("target", wte)]
    (hx, hx_out), (hy, hy_out) = seen[("train", lm_head)], seen[("target", lm_head)]
    cross = hf_rules.tied_embedding_head_dots(wte, ex, ex_out.grad, ey, ey_out.grad,
                                              "linear", hx, hx_out.grad, hy, hy_out.grad)
    assert cross.abs().max() > 1e-3 * want.abs().max()
    torch.testing.assert_close(untied + cross, want, rtol=1e-6, atol=1e-12)


# --- forward-over-reverse AD through the eager forwards ---------------------------------------------

def _target_losses(forward, x, y, m):
    return sequence_losses(forward(x), y, m)


def _hvp(model, target, j, d):
    """H_j·d of target j's loss, by double backward (reverse over reverse)."""
    vx, vy, vm = target
    params = {n: p.detach().clone().requires_grad_(True) for n, p in model.named_parameters()}
    loss = sequence_losses(functional_call(model, params, (vx[j:j + 1],)), vy[j:j + 1], vm[j:j + 1]).sum()
    g = torch.autograd.grad(loss, list(params.values()), create_graph=True)
    hv = torch.autograd.grad(sum((gi * d[n]).sum() for gi, n in zip(g, params)), list(params.values()))
    return torch.cat([h.flatten() for h in hv])


def _check_hessian_directions(model, rtol):
    """The tracker's forward-over-reverse pass (dual-number parameters through functional_call, then
    autograd.grad to every layer output) against double backward, per target."""
    tracker = GhostTracker(model)
    _, target = _data()
    gen = torch.Generator().manual_seed(5)
    d = {n: torch.randn(p.shape, generator=gen, dtype=p.dtype) for n, p in model.named_parameters()}
    h = tracker.hessian_directions(_target_losses, target, d)
    owner = {id(p): (ln, pn) for ln, mod in tracker.layers for pn, p in mod.named_parameters(recurse=False)}
    for j in range(target[0].shape[0]):
        got = torch.cat([h[owner[id(p)][0]][owner[id(p)][1]][j].flatten() for p in model.parameters()])
        want = _hvp(model, target, j, d)
        torch.testing.assert_close(got, want, rtol=rtol, atol=rtol * want.abs().max().item())


@pytest.mark.parametrize("kind, rtol", [("gpt2", 1e-6), ("neox", 1e-6), ("llama", 1e-5)])
def test_forward_over_reverse_through_eager_forward(kind, rtol):
    """Llama: HFCausalLM swaps SiLU for x·sigmoid(x) (torch has no forward-AD rule for SiLU's backward);
    its RMSNorm normalizes in float32 even in a float64 model, hence the looser tolerance."""
    over = {"tie_word_embeddings": False} if kind == "gpt2" else {}
    _check_hessian_directions(HFCausalLM(_no_dropout(_hf_model(kind, **over))).double(), rtol=rtol)


class _CompositeSiLU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


def test_llama_forward_over_reverse_with_composite_silu():
    """The one op that fails is SiLU's backward: x·sigmoid(x), the same function, goes through. The
    float32 normalization inside LlamaRMSNorm limits the agreement to float32 precision."""
    model = HFCausalLM(_no_dropout(_hf_model("llama"))).double()
    x = torch.randn(3, 4, dtype=torch.float64)
    torch.testing.assert_close(_CompositeSiLU()(x), F.silu(x))
    for mod in model.modules():
        if hasattr(mod, "act_fn"):
            mod.act_fn = _CompositeSiLU()
    _check_hessian_directions(model, rtol=1e-5)
