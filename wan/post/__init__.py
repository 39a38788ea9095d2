"""After generation: colour coherence, frame interpolation to the output fps, quality checks,
MP4 encoding; also for any video file (files.py: `python -m wan interpolate` and `check`)."""
