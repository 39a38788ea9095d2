"""Shared test settings. `HYPOTHESIS_PROFILE=thorough bash tests/run.sh` runs far more examples."""

import os

from hypothesis import settings

settings.register_profile("default", max_examples=150, deadline=None)
settings.register_profile("thorough", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# No test may reach the network: the Hugging Face libraries stay offline.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
