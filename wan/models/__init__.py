"""Loading and running the Wan models with diffusers: files, pipelines, memory and speed presets.
The registry of what exists is wan.catalog (pure data)."""
