"""The embedded SmolLM2-135M-Instruct model: loading, the IOI prediction and a head that matters."""

from __future__ import annotations

import loupe

IOI = "When Mary and John went to the store, John gave a drink to"


def test_embedded_config(smol: loupe.HookedModel) -> None:
    c = smol.cfg
    assert (c.arch, c.n_layers, c.n_heads, c.n_kv_heads, c.d_model, c.d_head) == ("llama", 30, 9, 3, 576, 64)
    assert c.name == "SmolLM2-135M-Instruct" and c.d_vocab == 49152
    assert "blocks.29.attn.hook_rot_q" in smol.hook_points and "blocks.0.hook_resid_mid" in smol.hook_points
    assert smol.hook_shape("blocks.3.attn.hook_k") == ("batch", "pos", "kv_head", "d_head")


def test_ioi_predicts_mary(smol: loupe.HookedModel) -> None:
    res = smol.run(IOI)
    top_id, top_p = res.top_k(1)[0]
    assert smol.tokenizer.decode([top_id]) == " Mary" and top_p > 0.5


def test_l23h3_suppresses_the_repeated_name(smol: loupe.HookedModel) -> None:
    """L23H3 attends from the final " to" to the second " John" and writes against " John".

    Zeroing its output at the last position raises the " John" logit and cuts the Mary-John logit
    difference roughly in half (6.1 -> 3.2), while " Mary" stays top-1: the head is one of several
    that carry the answer (found by ablating each of the 270 heads; see README).
    """
    mary, john = (smol.tokenizer.encode(n)[0] for n in (" Mary", " John"))
    clean = smol.run(IOI, capture="blocks.23.attn.hook_pattern")
    pattern = clean.cache["blocks.23.attn.hook_pattern"][0, 3, -1]
    assert clean.str_tokens[0][9] == " John" and float(pattern[9]) > 0.5
    ablated = smol.run(IOI, interventions=[loupe.Ablate(hook="blocks.23.attn.hook_z", head=3, positions=(-1,))])
    diff = clean.logit(mary) - clean.logit(john)
    diff_ablated = ablated.logit(mary) - ablated.logit(john)
    assert diff > 5 and diff - diff_ablated > 2
    assert ablated.logit(john) > clean.logit(john)
    other = smol.run(IOI, interventions=[loupe.Ablate(hook="blocks.5.attn.hook_z", head=7, positions=(-1,))])
    assert abs((other.logit(mary) - other.logit(john)) - diff) < 0.5  # an unimportant head barely matters
