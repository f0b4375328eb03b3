"""Each per-layer rule against brute-force per-sample gradients (float64, 1e-6 relative)."""

import pytest
import torch
import torch.nn as nn

from attribcli.inrun.rules import RULES, EmbeddingRule, LinearRule, rule_for


def _brute(layer, make_out, a_x, a_y, loss_w_x, loss_w_y):
    """Per-sample gradients of sum(out * w) for each row, by a loop; returns [N, M] dots and the b's."""
    def grads(a, w):
        gs, bs = [], []
        for i in range(a.shape[0]):
            out = make_out(layer, a[i:i + 1])
            out.retain_grad()
            (out * w[i:i + 1]).sum().backward()
            gs.append(torch.cat([p.grad.flatten() for p in layer.parameters()]))
            bs.append(out.grad[0])
            layer.zero_grad()
        return torch.stack(gs), torch.stack(bs)
    gx, bx = grads(a_x, loss_w_x)
    gy, by = grads(a_y, loss_w_y)
    return gx @ gy.T, bx, by


def _check(layer, make_out, a_x, a_y, d_out, rule=None):
    lead = 1 if a_x.dtype == torch.long else 0  # ids have no feature dim
    wx = torch.randn(*a_x.shape[:a_x.dim() - 1 + lead], d_out, dtype=torch.float64)
    wy = torch.randn(*a_y.shape[:a_y.dim() - 1 + lead], d_out, dtype=torch.float64)
    N, M = a_x.shape[0], a_y.shape[0]
    want, bx, by = _brute(layer, make_out, a_x, a_y, wx, wy)
    got = (rule or rule_for(layer)).pair_dots(layer, a_x, bx, a_y, by)
    assert got.shape == (N, M)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("route", ["ghost", "project", "materialize", "auto"])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_rule_matches_brute_force(bias, route):
    layer = nn.Linear(5, 7, bias=bias).double()
    _check(layer, lambda layer, a: layer(a), torch.randn(3, 4, 5, dtype=torch.float64),
           torch.randn(2, 6, 5, dtype=torch.float64), 7, rule=LinearRule(route))


@pytest.mark.parametrize("route", ["ghost", "project", "materialize"])
def test_linear_rule_with_extra_token_dims(route):
    layer = nn.Linear(3, 4).double()
    _check(layer, lambda layer, a: layer(a), torch.randn(2, 3, 2, 3, dtype=torch.float64),
           torch.randn(3, 2, 2, 3, dtype=torch.float64), 4, rule=LinearRule(route))


def test_linear_routes_agree_on_many_targets():
    layer = nn.Linear(4, 6).double()
    a_x, b_x = torch.randn(3, 5, 4, dtype=torch.float64), torch.randn(3, 5, 6, dtype=torch.float64)
    a_y, b_y = torch.randn(7, 2, 4, dtype=torch.float64), torch.randn(7, 2, 6, dtype=torch.float64)
    got = {r: LinearRule(r).pair_dots(layer, a_x, b_x, a_y, b_y) for r in ("ghost", "project", "materialize")}
    torch.testing.assert_close(got["project"], got["ghost"], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got["materialize"], got["ghost"], rtol=1e-10, atol=1e-12)


def test_route_choice_follows_cost():
    assert LinearRule.choose(N=16, T=16, M=8, S=16, d_in=768, d_out=3072) == "ghost"  # short sequences, wide layer
    assert LinearRule.choose(N=16, T=256, M=8, S=200, d_in=128, d_out=384) == "materialize"
    # too big to form for every sample at once: formed a chunk of samples at a time, still far cheaper than ghost
    assert LinearRule.choose(N=64, T=1024, M=8, S=1000, d_in=4096, d_out=4096) == "materialize"
    assert LinearRule.choose(N=16, T=4096, M=2, S=4096, d_in=4096, d_out=4096) == "materialize"


def test_materializing_in_chunks_of_samples_gives_the_values_of_one_chunk(monkeypatch):
    import attribcli.inrun.rules as rules_module

    layer = torch.nn.Linear(4, 6).double()
    a_x, b_x = torch.randn(5, 3, 4, dtype=torch.float64), torch.randn(5, 3, 6, dtype=torch.float64)
    a_y, b_y = torch.randn(2, 2, 4, dtype=torch.float64), torch.randn(2, 2, 6, dtype=torch.float64)
    D = LinearRule().target_grads(layer, a_y, b_y)
    whole = LinearRule().direction_dots(layer, a_x, b_x, D, route="materialize")
    monkeypatch.setattr(rules_module, "MATERIALIZE_MAX_ELEMENTS", 2 * 4 * 6)  # two samples' gradients at a time
    torch.testing.assert_close(LinearRule().direction_dots(layer, a_x, b_x, D, route="materialize"), whole,
                               rtol=1e-12, atol=1e-14)


def _directions_check(layer, a_x, a_y, d_out):
    """direction_dots(target_grads) equals pair_dots, and direction_dots with a random direction equals
    the brute-force per-sample gradient dotted with it."""
    rule = rule_for(layer)
    wx = torch.randn(*a_x.shape[:2], d_out, dtype=torch.float64)
    wy = torch.randn(*a_y.shape[:2], d_out, dtype=torch.float64)
    _, bx, by = _brute(layer, lambda m, a: m(a), a_x, a_y, wx, wy)
    G = rule.target_grads(layer, a_y, by)
    torch.testing.assert_close(rule.direction_dots(layer, a_x, bx, G), rule.pair_dots(layer, a_x, bx, a_y, by),
                               rtol=1e-9, atol=1e-12)
    names = [n for n, _ in layer.named_parameters()]
    assert sorted(G) == sorted(names) and all(G[n].shape == (a_y.shape[0], *dict(layer.named_parameters())[n].shape)
                                             for n in names)
    D = {n: torch.randn_like(g) for n, g in G.items()}
    gx = []
    for i in range(a_x.shape[0]):
        layer.zero_grad()
        (layer(a_x[i:i + 1]) * wx[i:i + 1]).sum().backward()
        gx.append(torch.cat([p.grad.flatten() for _, p in layer.named_parameters()]))
    flatD = torch.cat([D[n].flatten(1) for n in names], dim=1)
    torch.testing.assert_close(rule.direction_dots(layer, a_x, bx, D), torch.stack(gx) @ flatD.T, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("make", [lambda: nn.Linear(5, 7).double(), lambda: nn.LayerNorm(5).double()])
def test_target_grads_and_direction_dots(make):
    layer = make()
    _directions_check(layer, torch.randn(3, 4, 5, dtype=torch.float64), torch.randn(2, 6, 5, dtype=torch.float64),
                      7 if isinstance(layer, nn.Linear) else 5)


def test_embedding_target_grads_and_direction_dots():
    layer = nn.Embedding(6, 4, padding_idx=0).double()
    _directions_check(layer, torch.tensor([[1, 2, 2, 0], [5, 1, 3, 3]]), torch.tensor([[2, 0, 4], [3, 3, 1]]), 4)


@pytest.mark.parametrize("route", ["ghost", "gather", "auto"])
def test_embedding_rule_matches_brute_force_with_repeated_ids(route):
    layer = nn.Embedding(6, 4).double()
    ids_x = torch.tensor([[1, 2, 2, 5], [0, 1, 3, 3], [5, 5, 5, 1]])
    ids_y = torch.tensor([[2, 1, 4], [3, 3, 0]])
    _check(layer, lambda layer, a: layer(a), ids_x, ids_y, 4, rule=EmbeddingRule(route))


def test_embedding_gather_in_chunks_of_samples_matches_ghost(monkeypatch):
    """A budget too small for one sample's rows: the gather route takes the samples one at a time."""
    import attribcli.inrun.rules as rules

    layer = nn.Embedding(9, 3, padding_idx=0).double()
    ids_x = torch.tensor([[1, 2, 2, 5], [0, 1, 3, 3], [5, 5, 8, 1], [7, 7, 0, 6]])
    ids_y = torch.tensor([[2, 1, 4, 8], [3, 3, 0, 6]])
    b_x, b_y = torch.randn(4, 4, 3, dtype=torch.float64), torch.randn(2, 4, 3, dtype=torch.float64)
    ghost = EmbeddingRule("ghost").pair_dots(layer, ids_x, b_x, ids_y, b_y)
    monkeypatch.setattr(rules, "MATERIALIZE_MAX_ELEMENTS", 8)
    rule = EmbeddingRule("gather")
    torch.testing.assert_close(rule.pair_dots(layer, ids_x, b_x, ids_y, b_y), ghost, rtol=1e-12, atol=1e-12)
    D = rule.target_grads(layer, ids_y, b_y)
    torch.testing.assert_close(rule.direction_dots(layer, ids_x, b_x, D), ghost, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("route", ["ghost", "gather"])
def test_embedding_rule_skips_padding_idx(route):
    layer = nn.Embedding(6, 3, padding_idx=0).double()
    ids_x = torch.tensor([[0, 2, 0], [1, 0, 4]])
    ids_y = torch.tensor([[0, 0, 2], [4, 1, 0]])
    _check(layer, lambda layer, a: layer(a), ids_x, ids_y, 3, rule=EmbeddingRule(route))


@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_rule_matches_brute_force(affine):
    layer = nn.LayerNorm(5, elementwise_affine=affine).double()
    if not affine:
        assert not list(layer.parameters())
        return
    with torch.no_grad():
        layer.weight.normal_()
        layer.bias.normal_()
    _check(layer, lambda layer, a: layer(a), torch.randn(3, 4, 5, dtype=torch.float64),
           torch.randn(2, 3, 5, dtype=torch.float64), 5)


def test_every_core_rule_is_tested_here():
    """Core layer types are tested in this file; rules for Hugging Face layers (Conv1D, RMSNorm), which
    register on import of attribcli.inrun.hf_rules, are tested in tests/model/test_hf.py."""
    assert {nn.Linear, nn.Embedding, nn.LayerNorm} <= set(RULES)
    others = set(RULES) - {nn.Linear, nn.Embedding, nn.LayerNorm}
    assert all(t.__module__.startswith("transformers.") for t in others), others


def test_rule_lookup_takes_the_exact_type_and_refuses_a_subclass_with_its_own_forward():
    class SameMath(nn.Linear):  # a subclass that computes what Linear computes keeps the Linear rule
        pass

    class OwnForward(nn.Linear):  # may compute anything: the Linear rule would be silently wrong
        def forward(self, x):
            return super().forward(x) * 2

    class BelowOwnForward(OwnForward):
        pass

    assert isinstance(rule_for(nn.Linear(2, 3)), LinearRule)
    assert isinstance(rule_for(SameMath(2, 3)), LinearRule)
    assert rule_for(OwnForward(2, 3)) is None
    assert rule_for(BelowOwnForward(2, 3)) is None
    from attribcli.inrun.tracker import GhostTracker, UnsupportedModel

    with pytest.raises(UnsupportedModel, match="OwnForward"):
        GhostTracker(nn.Sequential(OwnForward(2, 3)))
