"""The tiny job the host checks and the queue tests submit: two prompts, 36 frames of 64x64 with
the tiny model, in clips of 17 frames (standard library only: host interpreters import it)."""

TINY_JOB = {
    "model": "tiny",
    "prompts": {"0": "a fox", "20": "a den"},
    "max_frames": 36,
    "fps": 16,
    "W": 64,
    "H": 64,
    "steps": 3,
    "clip_frames": 17,
    "seed": 11,
}
