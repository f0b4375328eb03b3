"""Decoding: greedy is the argmax at every step, sampling is a function of the seed, and a completion never
outgrows the context or starts with a stop token."""

import torch

from attribcli.model.decode import complete
from attribcli.model.gpt import GPT, GPTConfig

CFG = GPTConfig(vocab_size=11, context_length=12, n_layer=1, n_head=2, n_embd=8)


def _model():
    torch.manual_seed(0)
    return GPT(CFG).eval()


def test_greedy_is_the_argmax_of_each_next_token():
    model, ids = _model(), [10, 3, 4]
    out = complete(model, ids, max_new_tokens=5, context_length=12)
    seq = list(ids)
    for _ in range(5):
        with torch.no_grad():
            seq.append(int(model(torch.tensor([seq]))[0, -1].argmax()))
    assert out == seq[3:] and len(out) == 5


def test_a_completion_fits_the_context():
    out = complete(_model(), [10] + [1] * 9, max_new_tokens=50, context_length=12)
    assert len(out) == 3  # BOS + 9 + 3 = 13 tokens: 12 predicted, the whole context


class Fixed(torch.nn.Module):
    """Next-token logits that do not depend on the input: token 2 most likely, then 1, then 0."""

    def forward(self, idx):
        return torch.tensor([0.0, 1.0, 2.0]).expand(idx.shape[0], idx.shape[1], 3)


def test_stop_tokens_end_a_completion_but_never_empty_it():
    # 2 is masked for the first token, then ends the completion
    assert complete(Fixed(), [0], max_new_tokens=4, context_length=8, stop_ids=frozenset({2})) == [1]
    assert complete(Fixed(), [0], max_new_tokens=4, context_length=8) == [2, 2, 2, 2]


def test_sampling_depends_on_the_seed_only_and_top_p_narrows_it():
    def draw(seed, **kw):
        return complete(Fixed(), [0], max_new_tokens=40, context_length=64, temperature=1.0,
                        generator=torch.Generator().manual_seed(seed), **kw)

    assert draw(1) == draw(1) and draw(1) != draw(2)
    assert set(draw(1)) == {0, 1, 2}
    assert draw(1, top_p=0.5) == [2] * 40  # p(2) = 0.665 alone reaches 0.5
    assert set(draw(1, top_p=0.8)) == {1, 2}  # 0.665 + 0.245 reach 0.8; token 0 never drawn
