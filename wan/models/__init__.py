"""Wan models: the registry of supported checkpoints (pure data) and, later, their loading."""

from .registry import DEFAULT_MODEL, MODELS, ModelSpec, default_flow_shift, known_model, model_spec

__all__ = ["DEFAULT_MODEL", "MODELS", "ModelSpec", "default_flow_shift", "known_model", "model_spec"]
