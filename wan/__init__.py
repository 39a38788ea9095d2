"""Wan Video for WebUI: Deforum-style animation settings to Wan 2.1 video.

Importing `wan` is cheap: torch, diffusers and transformers are imported only by the modules
that run models.
"""

__version__ = "0.1.0"
