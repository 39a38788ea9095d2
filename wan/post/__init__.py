"""After generation: colour coherence, frames at the output fps, MP4 encoding."""
