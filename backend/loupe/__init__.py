"""Loupe: a live, shared, scriptable workbench for looking inside transformer language models."""

from __future__ import annotations

from loupe.engine.generate import GenStep
from loupe.engine.loading import load
from loupe.engine.model import HookedModel
from loupe.engine.result import FeatureActs, RunResult
from loupe.errors import Cancelled, LoupeError
from loupe.features.sae import SAE
from loupe.hooks.interventions import Ablate, Feature, Intervention, Patch, Scale, Steer
from loupe.models.config import ModelConfig
from loupe.version import __version__

__all__ = [
    "SAE",
    "Ablate",
    "Cancelled",
    "Feature",
    "FeatureActs",
    "GenStep",
    "HookedModel",
    "Intervention",
    "LoupeError",
    "ModelConfig",
    "Patch",
    "RunResult",
    "Scale",
    "Steer",
    "__version__",
    "load",
]
