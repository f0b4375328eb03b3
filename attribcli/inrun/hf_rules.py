"""In-run rules for the layer types of Hugging Face models, and the cross terms of tied embeddings.

Importing this module registers, in ``attribcli.inrun.rules.RULES``:

- ``transformers.pytorch_utils.Conv1D`` (GPT-2's projections) with ``Conv1DRule``;
- ``LlamaRMSNorm`` (Llama and every model that copies its norm) with ``RMSNormRule``.

Other models define their own RMSNorm class with the very same code (Mistral, Qwen2/3, ... over a
hundred in transformers 5.x, each a distinct Python class). ``register_model_norms(model)`` registers
those of one model: a class is taken only when its ``forward`` is, statement for statement, one of the
two forms the rule is exact for; anything else stays uncovered and the tracker refuses it.
GPT-NeoX needs nothing from here: its parameters all live in ``nn.Linear``, ``nn.Embedding`` and
``nn.LayerNorm`` (rotary embeddings hold buffers, not parameters).

Where ``transformers`` is not installed nothing is registered, and ``tied_embedding_head_dots`` (plain
torch) still works.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

import torch
import torch.nn as nn

from attribcli.inrun.rules import RULES, LayerRule, LinearRule, flatten_tokens, register


class Conv1DRule(LinearRule):
    """GPT-2's ``Conv1D``: ``y = x W + c`` with ``W`` stored ``[d_in, d_out]``, i.e. a Linear whose weight
    is transposed. A sample's gradient is ``aᵀ b``, the transpose of the Linear one ``bᵀ a``, and a
    transpose changes no Frobenius inner product: ``<A_xᵀ, A_yᵀ> = <A_x, A_y>``. So LinearRule's math
    (every route, and the bias term ``Σ_t b_t``) applies unchanged; the only difference is the layout
    of the weight, which ``_weight`` reports so that the route costs read the right ``d_in``/``d_out``
    and target gradients / directions come in the parameter's own ``[d_in, d_out]`` shape."""

    @staticmethod
    def _weight(module) -> tuple[torch.Tensor, bool]:
        return module.weight, True


class RMSNormRule(LayerRule):
    """Llama-style RMSNorm, weight only: ``y = w ⊙ x̂`` with ``x̂ = x / sqrt(mean(x²) + eps)``, the
    normalization computed in float32 whatever the input dtype. A sample's ``∇w = Σ_t b_t ⊙ x̂_t`` has
    d numbers: formed directly, as the LayerNorm rule does (exact and cheap).

    ``x̂`` is recomputed from the captured input exactly as the module's forward computes it, rounding
    included, so the rule is exact even where float32 normalization meets float64 weights. Two forms:

    - ``cast_before_scale=True`` (``LlamaRMSNorm``): ``w * x̂.to(input_dtype)``;
    - ``cast_before_scale=False`` (OLMo-2/3, GPT-OSS): ``(w * x̂).to(input_dtype)``, the product taken
      in float32 (or wider, if ``w`` is), so ``x̂`` and ``b`` meet in that dtype."""

    def __init__(self, cast_before_scale: bool = True):
        self.cast_before_scale = cast_before_scale

    def pair_dots(self, module, a_x, b_x, a_y, b_y):
        if not module.weight.requires_grad:
            return a_x.new_zeros(a_x.shape[0], a_y.shape[0])
        return self._per_sample(module, a_x, b_x) @ self._per_sample(module, a_y, b_y).T

    def target_grads(self, module, a_y, b_y):
        return {"weight": self._per_sample(module, a_y, b_y)} if module.weight.requires_grad else {}

    def direction_dots(self, module, a_x, b_x, D):
        if "weight" not in D:
            return None  # as LinearRule: no direction for this layer, no contribution
        g = self._per_sample(module, a_x, b_x)
        return g @ D["weight"].to(g.dtype).T

    def project(self, module, a, b, mats):
        g = self._per_sample(module, a, b)
        return {"weight": g @ mats["weight"][0].T.to(g.dtype)} if "weight" in mats else {}

    def _per_sample(self, module, a, b):
        """``[n, d]``: ``Σ_t b_t ⊙ x̂_t`` per sample (also on dual tensors: tangents flow through)."""
        x = a.to(torch.float32)
        xhat = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + module.variance_epsilon)
        if self.cast_before_scale:
            xhat = xhat.to(a.dtype)
        else:
            wide = torch.promote_types(module.weight.dtype, torch.float32)
            xhat, b = xhat.to(wide), b.to(wide)
        d = a.shape[-1]
        return (b * xhat).reshape(a.shape[0], -1, d).sum(1)


# The two forward bodies RMSNormRule is exact for, as in transformers' LlamaRMSNorm / Olmo2RMSNorm.
_RMS_BODY = """
input_dtype = hidden_states.dtype
hidden_states = hidden_states.to(torch.float32)
variance = hidden_states.pow(2).mean(-1, keepdim=True)
hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
"""
_FORMS = {
    ast.dump(ast.parse(_RMS_BODY + "return self.weight * hidden_states.to(input_dtype)\n")): True,
    ast.dump(ast.parse(_RMS_BODY + "return (self.weight * hidden_states).to(input_dtype)\n")): False,
}
_CAST_BEFORE = RMSNormRule(cast_before_scale=True)
_CAST_AFTER = RMSNormRule(cast_before_scale=False)


def rmsnorm_form(cls: type) -> bool | None:
    """``cast_before_scale`` for an RMSNorm class whose forward is one of the two known forms, else None.

    Compares the forward's statements (parsed, so comments, annotations, blank lines and the
    docstring do not matter) and checks that ``torch`` in its module is torch itself."""
    fwd = cls.__dict__.get("forward")
    if fwd is None or getattr(fwd, "__globals__", {}).get("torch") is not torch:
        return None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fwd)))
    except (OSError, TypeError, SyntaxError):
        return None
    fn = tree.body[0]
    if not isinstance(fn, ast.FunctionDef) or [a.arg for a in fn.args.args] != ["self", "hidden_states"] \
            or fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs or fn.decorator_list:
        return None
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]  # a docstring
    return _FORMS.get(ast.dump(ast.Module(body=body, type_ignores=[])))


def register_model_norms(model: nn.Module) -> list[type]:
    """Register RMSNormRule for every not-yet-covered module class of ``model`` whose forward is a known
    RMSNorm form and that holds exactly one parameter, ``weight``. Returns the classes added."""
    added = []
    for module in model.modules():
        cls = type(module)
        if cls in RULES or cls in added:
            continue
        own = dict(module.named_parameters(recurse=False))
        if set(own) != {"weight"} or own["weight"].dim() != 1 or not hasattr(module, "variance_epsilon"):
            continue
        form = rmsnorm_form(cls)
        if form is None:
            continue
        RULES[cls] = _CAST_BEFORE if form else _CAST_AFTER
        added.append(cls)
    return added


def tied_embedding_head_dots(emb: nn.Embedding, ids_x, b_emb_x, ids_y, b_emb_y, head_kind: str,
                             a_head_x, b_head_x, a_head_y, b_head_y) -> torch.Tensor:
    """``[N, M]`` cross terms ``<E_x, H_y> + <H_x, E_y>`` of a ``[V, d]`` weight shared by an embedding
    (E) and an output head (H); X has N samples, Y has M.

    With a tied weight a sample's gradient is ``E + H``, so ``<E_x+H_x, E_y+H_y>`` is the two same-type
    terms (EmbeddingRule and the head's own rule, each on its own captures) plus these cross terms.

    - ``E`` scatters ``b_emb[t]`` into row ``ids[t]`` (rows at ``emb.padding_idx`` get nothing);
    - ``H`` is ``Σ_s u_s ⊗ v_s`` with ``u_s ∈ R^V`` (row side) and ``v_s ∈ R^d`` (column side):
      ``head_kind="linear"``: ``logits = a Wᵀ``, so ``u = b_head``, ``v = a_head`` (``H = b_headᵀ a_head``,
      the usual LM head); ``head_kind="conv1d"``: ``y = a W`` (a Conv1D whose ``[d_in, d_out]`` weight
      is the ``[V, d]`` matrix itself), so ``u = a_head``, ``v = b_head`` (``H = a_headᵀ b_head``).

    Then ``<E_x, H_y> = Σ_t Σ_s u_y[s, ids_x[t]] · <b_emb_x[t], v_y[s]>``: a token-by-token Gram matrix
    weighted by the head's row-side entry at the embedding's id. No ``[V, d]`` matrix is formed; the
    largest intermediate is ``[N·T, S]`` per head-side sample.

    Shapes: ``ids`` ``[n, T, ...]`` long, ``b_emb`` ``[n, T, ..., d]``; head captures ``[n, S, ..., k]``.
    A layer called several times contributes the sum over all (embedding call, head call) pairs."""
    if head_kind == "linear":
        u_x, v_x, u_y, v_y = b_head_x, a_head_x, b_head_y, a_head_y
    elif head_kind == "conv1d":
        u_x, v_x, u_y, v_y = a_head_x, b_head_x, a_head_y, b_head_y
    else:
        raise ValueError(f"head_kind must be 'linear' or 'conv1d', not {head_kind!r}")
    pad = emb.padding_idx
    xy = _embedding_head(flatten_tokens(ids_x, 0), flatten_tokens(b_emb_x, 1), flatten_tokens(u_y, 1),
                         flatten_tokens(v_y, 1), pad)
    yx = _embedding_head(flatten_tokens(ids_y, 0), flatten_tokens(b_emb_y, 1), flatten_tokens(u_x, 1),
                         flatten_tokens(v_x, 1), pad)
    return xy + yx.T


def _embedding_head(ids, b_e, u, v, padding_idx) -> torch.Tensor:
    """``[n_e, n_h]``: ``<E_i, H_j> = Σ_t Σ_s u[j, s, ids[i, t]] <b_e[i, t], v[j, s]>``."""
    n_e, T = ids.shape
    if padding_idx is not None:
        b_e = b_e * (ids != padding_idx).unsqueeze(-1).to(b_e.dtype)
    b_flat, ids_flat = b_e.reshape(n_e * T, -1), ids.reshape(-1)
    out = b_e.new_empty(n_e, u.shape[0])
    for j in range(u.shape[0]):  # one head-side sample at a time: [n_e·T, S] intermediates, no more
        gram = b_flat @ v[j].T               # <b_e[i, t], v[j, s]>
        rows = u[j][:, ids_flat].T           # u[j, s, ids[i, t]]
        out[:, j] = (gram * rows).view(n_e, -1).sum(1)
    return out


try:
    from transformers.pytorch_utils import Conv1D
except ImportError:  # transformers not installed: nothing to register
    Conv1D = None
else:
    register(Conv1D)(Conv1DRule)
    try:
        from transformers.models.llama.modeling_llama import LlamaRMSNorm
    except ImportError:
        LlamaRMSNorm = None
    else:
        if rmsnorm_form(LlamaRMSNorm) is not None:  # its forward is the form the rule assumes
            RULES[LlamaRMSNorm] = _CAST_BEFORE if rmsnorm_form(LlamaRMSNorm) else _CAST_AFTER
