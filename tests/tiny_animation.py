"""The animation the iteration tests render with the tiny model: four prompts of one 9-frame clip
each at 64x64 (clip k starts at model frame 0, 9, 17, 25; each later clip continues from one
frame of the one before)."""

PROMPTS = {"0": "a misty forest", "9": "a stone castle", "17": "a lake", "25": "a night sky"}
SETTINGS = {
    "model": "tiny",
    "W": 64,
    "H": 64,
    "fps": 16,
    "steps": 2,
    "clip_frames": 9,
    "clip_overlap": 1,
    "seed": 7,
    "prompts": PROMPTS,
    "max_frames": 33,
}
