"""A trainable TopK sparse autoencoder (Gao et al. 2024, "Scaling and evaluating sparse autoencoders").

Encode: pre = (x - b_dec) @ W_enc + b_enc; keep the k largest, ReLU. Decode: x̂ = acts @ W_dec + b_dec, decoder rows
kept at unit norm. The loss is the normalised MSE (FVU) plus alpha * AuxK: the k_aux largest pre-activations of
the dead latents reconstruct the residual x - x̂, so dead latents get gradient and come back. Only the chosen
latents' encoder columns and decoder rows enter the graph, and the choice of the k latents is made with one
bfloat16 matmul outside it (the chosen activations are then computed in float32), which keeps a CPU step cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class StepOut:
    loss: torch.Tensor
    fvu: torch.Tensor
    aux: torch.Tensor
    fired: torch.Tensor  # [d_sae] bool: latents that fired in this batch


def fvu(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Fraction of variance unexplained: sum (x - x̂)² / sum (x - mean x)² over a batch [n, d]."""
    return (x - x_hat).pow(2).sum() / (x - x.mean(0)).pow(2).sum().clamp_min(1e-12)


def geometric_median(x: torch.Tensor, iters: int = 50) -> torch.Tensor:
    """The point minimising the summed distance to the rows of x (Weiszfeld's algorithm)."""
    m = x.mean(0)
    for _ in range(iters):
        w = 1.0 / (x - m).norm(dim=-1).clamp_min(1e-6)
        m = (w[:, None] * x).sum(0) / w.sum()
    return m


class TopKSAE(nn.Module):
    """W_enc_T [d_sae, d_in] (SAELens's W_enc transposed, so a latent's weights are one row), W_dec [d_sae, d_in],
    b_enc [d_sae], b_dec [d_in]."""

    def __init__(self, d_in: int, d_sae: int, k: int, generator: torch.Generator) -> None:
        super().__init__()
        if not 1 <= k <= d_sae:
            raise ValueError(f"k must be in 1..d_sae ({d_sae}), got {k}")
        self.k = k
        w = torch.randn(d_sae, d_in, generator=generator)
        w /= w.norm(dim=-1, keepdim=True)
        self.W_dec = nn.Parameter(w)
        self.W_enc_T = nn.Parameter(w.clone())  # tied initialisation: W_enc = W_dec.T
        self.b_enc = nn.Parameter(torch.zeros(d_sae))
        self.b_dec = nn.Parameter(torch.zeros(d_in))

    @property
    def d_sae(self) -> int:
        return self.W_dec.shape[0]

    def init_b_dec(self, sample: torch.Tensor) -> None:
        """b_dec := the geometric median of a sample of activations."""
        with torch.no_grad():
            self.b_dec.copy_(geometric_median(sample.float()))

    def saelens_weights(self) -> dict[str, torch.Tensor]:
        """The weights under SAELens's names and shapes (float32, detached)."""
        return {
            "W_enc": self.W_enc_T.detach().T.contiguous(),
            "W_dec": self.W_dec.detach().clone(),
            "b_enc": self.b_enc.detach().clone(),
            "b_dec": self.b_dec.detach().clone(),
        }

    def _selected(self, xc: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Pre-activations of latents idx [n, j] only (the rows of W_enc_T they pick), in the graph."""
        return torch.einsum("njd,nd->nj", F.embedding(idx, self.W_enc_T), xc) + self.b_enc[idx]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The k active latents of each row of x [n, d_in]: (indices [n, k], activations [n, k])."""
        xc = x - self.b_dec
        with torch.no_grad():
            pre = xc.bfloat16() @ self.W_enc_T.bfloat16().T + self.b_enc.bfloat16()
            idx = pre.topk(self.k, dim=-1).indices
        return idx, self._selected(xc, idx).relu()

    def decode(self, idx: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nk,nkd->nd", acts, F.embedding(idx, self.W_dec)) + self.b_dec

    def step(self, x: torch.Tensor, dead: torch.Tensor, k_aux: int, aux_alpha: float) -> StepOut:
        """Forward and loss for a batch x [n, d_in]; `dead` [d_sae] marks latents that have not fired lately."""
        idx, acts = self.encode(x)
        x_hat = self.decode(idx, acts)
        loss_fvu = fvu(x, x_hat)
        fired = torch.zeros(self.d_sae, dtype=torch.bool, device=x.device)
        fired[idx[acts > 0]] = True
        aux = torch.zeros((), device=x.device)
        dead_ids = dead.nonzero().squeeze(-1)
        if len(dead_ids) and aux_alpha > 0:
            e = (x - x_hat).detach()
            xc = x - self.b_dec
            pre = xc @ self.W_enc_T[dead_ids].T + self.b_enc[dead_ids]
            top = pre.topk(min(k_aux, len(dead_ids)), dim=-1)
            e_hat = torch.einsum("nj,njd->nd", top.values.relu(), self.W_dec[dead_ids][top.indices])
            aux = fvu(e, e_hat).nan_to_num(0.0)
        return StepOut(loss_fvu + aux_alpha * aux, loss_fvu.detach(), aux.detach(), fired)

    @torch.no_grad()
    def project_decoder_grad(self) -> None:
        """Remove the part of W_dec's gradient that would change the rows' norms."""
        g = self.W_dec.grad
        if g is not None:
            g -= (g * self.W_dec).sum(-1, keepdim=True) * self.W_dec

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        self.W_dec.div_(self.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-8))
