"""What determines a clip's frames, as a fingerprint: two clips with the same fingerprint have the
same frames, so a re-render reuses every clip whose fingerprint is on disk already.

A clip's fingerprint hashes:

- every field of its ClipPlan except those in CLIP_FIELDS_IGNORED (its prompt as the model gets
  it, negative prompt, seed, model, frame counts and positions, overlap, trim, conditioning, and
  any field added later, e.g. LoRA weights);
- every field of the GenerationPlan except those in PLAN_FIELDS_IGNORED (the render size, steps,
  the fixed step list, guidance of each expert, flow shift, and any field added later);
- the render options that change frames (`factors`, wan.render.options.frame_factors: again a
  denylist): the lossy speed settings (preset, step cache and its threshold, fp8, the distilled
  LoRA and its weight), the weights format and files, colour coherence;
- the content of the init image (a clip that starts from it), and the size and modification time
  of any weights file a plan field or factor names (LoRAs, GGUF files: `*.safetensors`, ...);
- the files of a model that is a local pipeline folder, by size and modification time
  (model_index.json says whether it has two experts and where they part); a model of the
  registry is what its id says;
- the fingerprints of the clips it depends on: the clip before it when it continues from it
  (its overlap frames are the tail of the video so far), and the first clip when colour coherence
  matches it to the first clip's colours.

The lists are denylists on purpose: a field nobody listed counts, so a setting added to the plan
later can never be reused wrongly. What is ignored either does not reach the model (output frame
ranges, the movement analysis, `base_prompt` / `style` / `movement_phrase`, which `prompt` already
holds, enhancement notes), or computes the same frames in another order (attention kernel,
torch.compile, memory preset, device, a LoRA fused into the weights or kept as an adapter at the
same weight). The weights format counts as the one the render loaded: what `auto` picked on its
GPU (wan.render.options.config_factors). Post-processing (output fps, interpolation, CRF, quality
checks, the output size when the render size stays) is not in the clips at all; an output fps
that needs other model frames changes the clips' frame positions and prompts' cuts, and so their
fingerprints.

Caveat: MagCache (`speed_cache: mag`) calibrates on the first clip a session renders, so a clip
rendered with it may differ slightly between a full render and a re-render from a later clip.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .plan import GenerationPlan

FINGERPRINT_VERSION = 1
FINGERPRINT_LENGTH = 16  # hex digits (64 bits)
PLAN_FIELDS_IGNORED = frozenset(
    {
        "clips",  # each clip is fingerprinted on its own
        "width",  # the output size: the model renders at render_width x render_height and the
        "height",  # output stage resizes to it
        "size_note",  # a note
        "model",  # each clip names the model that renders it
        "i2v_model",
        "output_frames",  # the output stage's
        "output_fps",
        "model_frames",  # each clip's own frame positions count
        "seed",  # each clip's own seed counts
        "seed_behavior",
        "clip_frames",  # each clip's own frame counts count
        "clip_overlap",
        "init_image",  # its content counts, not its name
        "warnings",
        "version",
    }
)
CLIP_FIELDS_IGNORED = frozenset(
    {
        "index",  # the frames do not depend on the clip's number
        "start_frame",  # output frames
        "end_frame",
        "prompt_frame",
        "base_prompt",  # `prompt` holds what the model is given
        "style",
        "movement_phrase",
        "movement",
        "enhancement",  # a note
    }
)
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".gguf")
# what each dependency is called when a fingerprint changes because of it
DEPENDENCY_WORDS = {"after": "the clip before it", "reference": "the first clip (colour reference)"}


def _file_hash(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_hashes: dict[tuple[str, int, int], str] = {}


def content_hash(path: str) -> str:
    """The SHA-256 of a file's content (kept per path, size and modification time); 'missing'
    when it cannot be read."""
    try:
        info = os.stat(path)
        key = (os.path.abspath(path), info.st_size, info.st_mtime_ns)
        if key not in _hashes:
            _hashes[key] = _file_hash(path)
        return _hashes[key]
    except OSError:
        return "missing"


def _with_file_identities(value: Any) -> Any:
    """`value` with each weights file it names replaced by its name, size and modification time."""
    if isinstance(value, str) and value.lower().endswith(WEIGHT_SUFFIXES):
        try:
            info = os.stat(value)
        except OSError:
            return value
        return {"file": value, "bytes": info.st_size, "modified_ns": info.st_mtime_ns}
    if isinstance(value, Mapping):
        return {str(k): _with_file_identities(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_with_file_identities(v) for v in value]
    return value


def model_files(model: str) -> dict[str, list[int]] | None:
    """The files of a model that is a local pipeline folder (resolved as wan.models.resolve does:
    a folder with model_index.json wins over a registry id), each as [bytes, modified_ns] by its
    path in the folder; None for a model of the registry."""
    folder = Path(model).expanduser()
    if not (folder / "model_index.json").is_file():
        return None
    files: dict[str, list[int]] = {}
    for root, folders, names in os.walk(folder):
        folders[:] = sorted(name for name in folders if not name.startswith("."))  # .cache: downloads
        for name in names:
            path = os.path.join(root, name)
            try:
                info = os.stat(path)
            except OSError:
                continue
            files[os.path.relpath(path, folder)] = [info.st_size, info.st_mtime_ns]
    return files


def _plain(value: Any) -> Any:
    """A dataclass's fields as JSON-ready data (nested dataclasses too)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _fields_except(value: Any, ignored: frozenset[str]) -> dict[str, Any]:
    """A dataclass's fields but `ignored` ones, as JSON-ready data with weights files identified."""
    return _with_file_identities(
        {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name not in ignored}
    )


def _digest(material: Mapping[str, Any]) -> str:
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:FINGERPRINT_LENGTH]


def clip_materials(plan: GenerationPlan, factors: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What determines each clip's frames (see the module doc), the dependencies as fingerprints."""
    shared = _fields_except(plan, PLAN_FIELDS_IGNORED)
    factors = _with_file_identities(dict(factors))
    models = {model: model_files(model) for model in dict.fromkeys(clip.model for clip in plan.clips)}
    materials: list[dict[str, Any]] = []
    fingerprints: list[str] = []
    for position, clip in enumerate(plan.clips):
        material: dict[str, Any] = {
            "version": FINGERPRINT_VERSION,
            "plan": shared,
            "clip": _fields_except(clip, CLIP_FIELDS_IGNORED),
            "model_files": models[clip.model],
            "factors": factors if position > 0 else {**factors, "color_coherence": False},
            "init_image": content_hash(plan.init_image) if clip.conditioning == "init_image" else None,
            "after": fingerprints[-1] if clip.conditioning == "previous_clip" and fingerprints else None,
            "reference": fingerprints[0] if position > 0 and factors.get("color_coherence") else None,
        }
        materials.append(material)
        fingerprints.append(_digest(material))
    return materials


def clip_fingerprints(plan: GenerationPlan, factors: Mapping[str, Any]) -> tuple[str, ...]:
    """The fingerprint of every clip of `plan` rendered with `factors` (see the module doc)."""
    return tuple(_digest(material) for material in clip_materials(plan, factors))


def what_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between two clips' materials, in words a user knows: field names of the
    clip or the plan ("prompt", "seed", "steps"), or the clip it depends on."""
    changed: list[str] = []
    for part in ("clip", "plan", "factors"):
        a, b = old.get(part) or {}, new.get(part) or {}
        changed += [name for name in sorted(set(a) | set(b)) if a.get(name) != b.get(name)]
    if old.get("init_image") != new.get("init_image"):
        changed.append("init image")
    same_model = (old.get("clip") or {}).get("model") == (new.get("clip") or {}).get("model")
    if same_model and old.get("model_files") != new.get("model_files"):
        changed.append("model files")
    changed += [words for key, words in DEPENDENCY_WORDS.items() if old.get(key) != new.get(key)]
    return list(dict.fromkeys(changed))


__all__ = [
    "CLIP_FIELDS_IGNORED",
    "PLAN_FIELDS_IGNORED",
    "clip_fingerprints",
    "clip_materials",
    "model_files",
    "what_changed",
]
