"""HookedModel: a Hugging Face causal LM with Loupe's hook points, runs and generation."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from transformers import PreTrainedModel

from loupe.engine.compute import ComputeThread, on_compute
from loupe.engine.generate import generate as _generate
from loupe.engine.plan import PassParts
from loupe.engine.runner import run as _run
from loupe.engine.token_strings import TokenStrings
from loupe.engine.turns import Turns
from loupe.errors import LoupeError
from loupe.hooks import attention
from loupe.hooks.context import RunContext
from loupe.hooks.install import install
from loupe.hooks.points import HookPoints
from loupe.models.adapters import adapter_for, config_from_hf

if TYPE_CHECKING:
    from loupe.features.sae import SAE

Inputs = str | Sequence[str] | torch.Tensor


class HookedModel:
    """One loaded model. Forward passes are serialized by `lock`; hooks live only during a pass."""

    def __init__(self, hf: PreTrainedModel, tokenizer: Any, name: str) -> None:
        self.hf: PreTrainedModel = hf.eval()
        self.tokenizer = tokenizer
        self._strings = TokenStrings(tokenizer)
        self.adapter = adapter_for(hf.config.model_type)
        self.cfg = config_from_hf(hf.config, name)
        self.points = HookPoints(self.cfg, has_pos_embed=self.adapter.pos_embed is not None)
        self.lock = Turns()  # forward passes one at a time, taken round-robin across sessions
        # transformers >= 5.2x names the KV cache argument `cache`; older 5.x releases `past_key_values`.
        self._cache_arg = "cache" if "cache" in inspect.signature(hf.forward).parameters else "past_key_values"
        self.slot = attention.Slot()
        # where passes run: None = the calling thread; a server sets its `ComputeThread` (engine/compute.py)
        self.compute: ComputeThread | None = None
        self.saes: dict[str, SAE] = {}  # attached SAEs, by id: what interventions and runs may name
        attention.register()
        hf.set_attn_implementation(attention.IMPLEMENTATION)
        for layer in range(self.cfg.n_layers):
            attention.attach(self.adapter.module(hf, "attn", layer), self.slot, layer)
        if tokenizer is not None and tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token

    def __repr__(self) -> str:
        c = self.cfg
        return f"HookedModel({c.name!r}, arch={c.arch}, layers={c.n_layers}, heads={c.n_heads}, d_model={c.d_model})"

    @property
    def device(self) -> torch.device:
        device: torch.device = next(self.hf.parameters()).device
        return device

    @property
    def hook_points(self) -> list[str]:
        return list(self.points.names)

    def hook_shape(self, name: str) -> tuple[str, ...]:
        return self.points[name].shape

    def match_hooks(self, patterns: str | Iterable[str]) -> list[str]:
        return self.points.match(patterns)

    # --- SAEs -----------------------------------------------------------------------------------

    def add_sae(self, sae: SAE) -> SAE:
        """Attach `sae` under its id so runs and feature interventions can name it; checks that it fits."""
        sae.check_fits(self)
        if sae.id in self.saes and self.saes[sae.id] is not sae:
            raise LoupeError("bad_input", f"an SAE with id {sae.id!r} is already attached; give this one another id")
        self.saes[sae.id] = sae.to(self.device)
        return sae

    def sae(self, ref: SAE | str) -> SAE:
        """An attached SAE by id, or an SAE object checked against this model."""
        if isinstance(ref, str):
            if ref not in self.saes:
                raise LoupeError("not_found", f"unknown SAE {ref!r}; attached: {sorted(self.saes) or 'none'}")
            return self.saes[ref]
        ref.check_fits(self)
        return ref

    # --- tokens ---------------------------------------------------------------------------------

    def encode(self, inputs: Inputs, padding_side: str = "right") -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and attention mask, both [batch, pos], checked against the model's vocab and context."""
        if isinstance(inputs, torch.Tensor):
            tokens = inputs.long().unsqueeze(0) if inputs.dim() == 1 else inputs.long()
            if tokens.dim() != 2 or tokens.numel() == 0:
                raise LoupeError("bad_input", f"token tensor must be [pos] or [batch, pos], got {tuple(inputs.shape)}")
            if int(tokens.min()) < 0 or int(tokens.max()) >= self.cfg.d_vocab:
                raise LoupeError("bad_input", f"token ids must be in 0..{self.cfg.d_vocab - 1}")
            mask = torch.ones_like(tokens)
        else:
            texts = [inputs] if isinstance(inputs, str) else list(inputs)
            if not texts or not all(isinstance(t, str) for t in texts):
                raise LoupeError("bad_input", "inputs must be a string, a list of strings or a tensor of token ids")
            if any(not t for t in texts):
                raise LoupeError("empty_prompt", "the prompt is empty: type some text to run")
            self._require_tokenizer()
            enc = self.tokenizer(texts, return_tensors="pt", padding=True, padding_side=padding_side)
            tokens, mask = enc["input_ids"], enc["attention_mask"]
            if tokens.shape[1] == 0:
                raise LoupeError("empty_prompt", "the prompt encodes to no tokens")
        if tokens.shape[1] > self.cfg.n_ctx:
            raise LoupeError(
                "too_long", f"the prompt has {tokens.shape[1]} tokens; this model's context is {self.cfg.n_ctx}"
            )
        return tokens.to(self.device), mask.to(self.device)

    def to_tokens(self, inputs: Inputs, padding_side: str = "right") -> torch.Tensor:
        return self.encode(inputs, padding_side)[0]

    def to_str_tokens(self, inputs: str | torch.Tensor) -> list[str]:
        """Each token of a single prompt (or of a 1-D/[1, pos] id tensor) as text."""
        tokens = self.to_tokens(inputs)
        return self.decode_each(tokens[0].tolist())

    def decode_each(self, ids: list[int]) -> list[str]:
        self._require_tokenizer()
        return self._strings(ids)

    def _require_tokenizer(self) -> None:
        if self.tokenizer is None:
            raise LoupeError("bad_input", "this model has no tokenizer: pass token ids, or load it with tokenizer=")

    def unembed(self, resid: torch.Tensor) -> torch.Tensor:
        """Final norm then unembedding, [..., d_model] -> [..., d_vocab], without firing any hook."""
        norm = self.adapter.module(self.hf, "final_norm")
        head = self.hf.get_output_embeddings()
        assert head is not None
        logits: torch.Tensor = head.forward(norm.forward(resid))  # .forward skips the modules' hooks
        return logits

    # --- forward --------------------------------------------------------------------------------

    def forward(
        self,
        ctx: RunContext,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        past: Any = None,
        keep: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One forward pass with `ctx`'s hooks installed; returns logits [batch, pos, d_vocab] (with `keep`, a 1-D
        tensor of positions, only those are unembedded: [batch, len(keep), d_vocab])."""
        if position_ids is None:
            position_ids = (mask.cumsum(-1) - 1).clamp(min=0)

        def body() -> torch.Tensor:
            handles = install(self.hf, self.adapter, self.cfg, ctx)
            self.slot.ctx = ctx
            try:
                out = self.hf(
                    input_ids=tokens,
                    attention_mask=mask,
                    position_ids=position_ids,
                    use_cache=past is not None,
                    **({self._cache_arg: past} if past is not None else {}),
                    **({"logits_to_keep": keep} if keep is not None else {}),
                )
            finally:
                self.slot.ctx = None
                for h in handles:
                    h.remove()
            logits: torch.Tensor = out.logits
            return logits

        with self.lock.turn(ctx.cancel):  # a cancelled job leaves the queue for its turn at once
            return on_compute(self.compute, body)

    def pass_parts(self) -> PassParts:
        """What `run` adds to a forward pass: nothing (a wrapper of the model adds its interventions)."""
        return PassParts(self)

    # Runs and generation are functions of the model in their own modules; these are those functions as methods,
    # with their full signatures: `model.run(...)` is `loupe.engine.runner.run(model, ...)` -> RunResult, and
    # `model.generate(...)` is `loupe.engine.generate.generate(model, ...)` -> Iterator[GenStep].
    run = _run
    generate = _generate
