"""Loupe: a live, shared, scriptable workbench for looking inside transformer language models."""

from __future__ import annotations

from loupe.engine.generate import GenStep
from loupe.engine.model import HookedModel
from loupe.engine.result import RunResult
from loupe.errors import Cancelled, LoupeError
from loupe.hooks.interventions import Ablate, Intervention, Patch, Scale, Steer
from loupe.models.config import ModelConfig
from loupe.models.loading import load

__all__ = [
    "Ablate",
    "Cancelled",
    "GenStep",
    "HookedModel",
    "Intervention",
    "LoupeError",
    "ModelConfig",
    "Patch",
    "RunResult",
    "Scale",
    "Steer",
    "load",
]
__version__ = "0.1.0"
