"""QK and OV circuits of a head through the embeddings, and Q/K/V composition between heads.

Conventions (as in "A Mathematical Framework for Transformer Circuits" and TransformerLens, row vectors):
W_OV = W_V W_O and W_QK = W_Q W_K^T, both [d_model, d_model]. Every norm's gain (its elementwise weight)
is folded into the matrices that read its output (ln1's into W_Q, W_K, W_V; the final norm's into W_U);
the normalization's scale, LayerNorm's centering and all biases are ignored. Under grouped-query
attention, query head h uses key/value head h // (n_heads // n_kv_heads). For rotary models the QK
circuit is the part that does not depend on position (both tokens at the same rotation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from loupe.analysis.record import Record
from loupe.analysis.weights import attn_weights, embed_weight, kv_head, norm_gain, unembed

if TYPE_CHECKING:
    from loupe.engine.view import ModelView


@dataclass(frozen=True)
class _Head:
    W_Q: torch.Tensor  # [d_model, d_head], ln1 gain folded in
    W_K: torch.Tensor
    W_V: torch.Tensor
    W_O: torch.Tensor  # [d_head, d_model]


def _heads(model: ModelView, layer: int) -> list[_Head]:
    w = attn_weights(model, layer)
    g = norm_gain(model.adapter.module(model.hf, "ln1", layer), model.cfg.d_model).to(w.W_Q).unsqueeze(-1)
    return [
        _Head(g * w.W_Q[h], g * w.W_K[kv_head(model, h)], g * w.W_V[kv_head(model, h)], w.W_O[h])
        for h in range(model.cfg.n_heads)
    ]


def _unembed_folded(model: ModelView) -> torch.Tensor:
    W_U, _ = unembed(model)
    gain = norm_gain(model.adapter.module(model.hf, "final_norm"), model.cfg.d_model).to(W_U)
    return gain.unsqueeze(-1) * W_U


def word_tokens(model: ModelView, n: int = 2000) -> torch.Tensor:
    """Ids of up to `n` common whole-word tokens (a leading space, then 3+ letters), lowest ids first."""
    tok = model.tokenizer
    if tok is None:
        return torch.arange(min(n, model.cfg.d_vocab))
    ids = []
    for i, piece in enumerate(tok.convert_ids_to_tokens(list(range(model.cfg.d_vocab)))):
        if piece and piece[0] in "Ġ▁" and len(piece) >= 4 and piece[1:].isascii() and piece[1:].isalpha():
            ids.append(i)
            if len(ids) == n:
                break
    return torch.tensor(ids, dtype=torch.long)


@dataclass
class CircuitPairs(Record):
    """The largest entries of a token x token circuit restricted to `tokens`: (row id, column id, value)."""

    rows: torch.Tensor  # [k] token ids (source tokens for OV, query tokens for QK)
    cols: torch.Tensor  # [k] token ids (destination logits for OV, key tokens for QK)
    values: torch.Tensor  # [k]


@dataclass
class HeadCircuits:
    """One head's OV and QK circuits through the embeddings (see the module docstring for what is folded)."""

    layer: int
    head: int
    ov_top: CircuitPairs  # attending to token `row` raises the logit of token `col` by `value`
    ov_bottom: CircuitPairs  # the most negative entries: attending to `row` lowers the logit of `col`
    qk_top: CircuitPairs  # query token `row` attends to key token `col` with score `value` (pre-softmax)
    copying_score: float  # sum(eig) / sum(|eig|) of W_E W_OV W_U: +1 = pure copying, -1 = pure suppression
    qk_same_token_score: float  # the same for W_E W_QK W_E^T: +1 = attends to copies of itself
    ov_self_top5: float  # fraction of `tokens` whose own logit is among the 5 the OV circuit raises most
    ov_eigenvalues: torch.Tensor  # [d_head, 2] real and imaginary parts, over the whole vocabulary
    tokens: torch.Tensor  # the token subset the top pairs are drawn from

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "head": self.head,
            "ov_top": self.ov_top.to_dict(),
            "ov_bottom": self.ov_bottom.to_dict(),
            "qk_top": self.qk_top.to_dict(),
            "copying_score": self.copying_score,
            "qk_same_token_score": self.qk_same_token_score,
            "ov_self_top5": self.ov_self_top5,
            "ov_eigenvalues": self.ov_eigenvalues,
            "tokens": self.tokens,
        }


def _eig_score(m: torch.Tensor) -> tuple[float, torch.Tensor]:
    eig = torch.linalg.eigvals(m.double())
    return float(eig.sum().real / eig.abs().sum().clamp_min(1e-30)), eig


def _top(m: torch.Tensor, tokens: torch.Tensor, k: int, sign: float = 1.0) -> CircuitPairs:
    top = m.flatten().topk(min(k, m.numel()))
    n = m.shape[1]
    return CircuitPairs(tokens[top.indices // n], tokens[top.indices % n], sign * top.values)


def qk_ov(model: ModelView, layer: int, head: int, tokens: torch.Tensor | None = None, k: int = 20) -> HeadCircuits:
    """The head's circuits: top token pairs over `tokens` (default `word_tokens`) and eigenvalue scores."""
    h = _heads(model, layer)[head]
    W_E, W_U = embed_weight(model), _unembed_folded(model)
    toks = word_tokens(model) if tokens is None else tokens.long().cpu()
    e = W_E[toks.to(W_E.device)]
    ov = (e @ h.W_V) @ (h.W_O @ W_U[:, toks.to(W_U.device)])  # [n, n] source -> destination logit
    qk = (e @ h.W_Q) @ (e @ h.W_K).T  # [n, n] query -> key
    # Nonzero eigenvalues of a product AB equal those of BA: take them from the small d_head x d_head side.
    copying, eig = _eig_score((h.W_O @ W_U) @ (W_E @ h.W_V))
    same, _ = _eig_score((W_E @ h.W_K).T @ (W_E @ h.W_Q))
    return HeadCircuits(
        layer,
        head,
        _top(ov, toks, k),
        _top(-ov, toks, k, sign=-1.0),
        _top(qk, toks, k),
        copying,
        same,
        float((ov.topk(min(5, ov.shape[1]), dim=1).indices == torch.arange(len(toks))[:, None]).any(1).float().mean()),
        torch.stack([eig.real, eig.imag], dim=-1).float(),
        toks,
    )


@dataclass
class Composition(Record):
    """Composition scores [n_layers, n_heads, n_layers, n_heads]: [l1, h1, l2, h2] = how much head (l1, h1)'s
    output feeds head (l2, h2)'s queries (q), keys (k) or values (v); zero unless l1 < l2.

    score = ||W_OV^1 M^2||_F / (||W_OV^1||_F ||M^2||_F) with M = W_QK (q), W_QK^T (k) or W_OV (v).
    """

    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor

    def top(self, kind: str = "k", n: int = 10) -> list[tuple[str, str, float]]:
        """The `n` strongest pairs of one kind as ("L1H4", "L5H2", score)."""
        scores = getattr(self, kind)
        _, n_heads = scores.shape[:2]
        flat = scores.flatten()
        out = []
        for i in flat.argsort(descending=True)[:n].tolist():
            a, b = divmod(i, scores.shape[2] * n_heads)
            out.append((f"L{a // n_heads}H{a % n_heads}", f"L{b // n_heads}H{b % n_heads}", float(flat[i])))
        return out


def _r(a: torch.Tensor) -> torch.Tensor:
    """R of a = QR (a: [..., d_model, d_head]): ||a x|| = ||R x|| for any x."""
    r: torch.Tensor = torch.linalg.qr(a, mode="r").R
    return r


def composition_scores(model: ModelView) -> Composition:
    """Q-, K- and V-composition between every earlier and later head (one large matrix product per layer).

    ||A1 B1 A2 C2^T||_F is computed as ||(R_A1 B1)(A2 R_C2^T)||_F with R the triangular factor of a QR
    decomposition, so no [d_model, d_model] matrix is formed.
    """
    cfg = model.cfg
    L, H, dh = cfg.n_layers, cfg.n_heads, cfg.d_head
    heads = [_heads(model, layer) for layer in range(L)]
    W_V = torch.stack([torch.stack([h.W_V for h in hs]) for hs in heads])  # [L, H, d_model, d_head]
    W_O = torch.stack([torch.stack([h.W_O for h in hs]) for hs in heads])  # [L, H, d_head, d_model]
    W_Q = torch.stack([torch.stack([h.W_Q for h in hs]) for hs in heads])
    W_K = torch.stack([torch.stack([h.W_K for h in hs]) for hs in heads])
    writer = _r(W_V) @ W_O  # R_A1 B1: [L, H, d_head, d_model]
    writer_norm = writer.flatten(-2).norm(dim=-1)  # ||W_OV||
    readers = {  # A2 R_C2^T: [L, H, d_model, d_head]
        "q": W_Q @ _r(W_K).transpose(-1, -2),
        "k": W_K @ _r(W_Q).transpose(-1, -2),
        "v": W_V @ _r(W_O.transpose(-1, -2)).transpose(-1, -2),
    }
    out = {kind: torch.zeros(L, H, L, H) for kind in readers}
    for kind, reader in readers.items():
        reader_norm = reader.flatten(-2).norm(dim=-1)  # ||W_QK|| or ||W_OV|| of the later head
        for l2 in range(1, L):
            left = writer[:l2].reshape(l2 * H * dh, cfg.d_model)
            right = reader[l2].permute(1, 0, 2).reshape(cfg.d_model, H * dh)
            prod = (left @ right).view(l2, H, dh, H, dh)
            norms = prod.pow(2).sum(dim=(2, 4)).sqrt()  # [l2, H, H]
            out[kind][:l2, :, l2] = norms / (writer_norm[:l2, :, None] * reader_norm[l2][None, None, :])
    return Composition(out["q"], out["k"], out["v"])
