"""LoRAs (the `loras` setting): which LoRA files a render loads, at which weight, into which expert.

`loras` is a list; each entry is an object `{"file": NAME or PATH, "weight": NUMBER or SCHEDULE,
"expert": "both" | "high" | "low"}` (weight 1 and expert both unless given). In a `--set` value or a
text box the short form works too: entries separated by `;` or new lines, each
`FILE[:WEIGHT][@EXPERT]`, e.g. `detail:0.8; motion:0:(1), 48:(0.2)@low`.

- FILE is a name looked up in the LoRA folders (wan.config.folders: `<models>/loras`, and inside
  the WebUI its `models/Lora`), with or without `.safetensors`, or a path (only inside the models
  folder for API callers). A name is kept as the absolute path it was found at. Only `.safetensors`
  files: a pickle file can run code when it loads.
- WEIGHT is a number from -10 to 10, or a schedule in Deforum keyframe syntax over the output
  frames (`0:(0.8), 96:(0.2)`); each clip takes the schedule's value at its middle output frame
  (wan.plan). A constant weight is fused into the model (fastest); a scheduled one stays an
  adapter whose weight is set before each clip.
- EXPERT: Wan 2.2 A14B has two experts (high noise: `transformer`, low noise: `transformer_2`);
  `both` loads into every expert the model has, `high` / `low` into one (an error on a model
  with one expert).

The group has no key prefix: its one key is `loras`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..schedules import ScheduleError, evaluate_schedule, parse_keyframes
from .fields import FieldError, Invalid, setting
from .files import caller_path, current_file_access
from .folders import lora_folders
from .group import SettingsGroup

MAX_LORAS = 6
WEIGHT_LIMIT = 10.0
LORA_SUFFIX = ".safetensors"
EXPERTS = ("both", "high", "low")
_NUMBER = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*\Z")
# where FILE ends in the short form: the first ":" followed by a weight (a number or a schedule)
_WEIGHT_START = re.compile(r":(?=\s*[-+.\d(\"'])")
_EXPERT_SUFFIX = re.compile(r"@\s*(both|high|low)\s*\Z", re.IGNORECASE)


@dataclass(frozen=True)
class LoraSpec:
    """One LoRA of the settings: its file, its weight (a number or a schedule text) and expert."""

    file: str
    weight: float | str = 1.0
    expert: str = "both"

    @property
    def name(self) -> str:
        """The file's name without folder and suffix (for messages and the UI)."""
        return Path(self.file).name.removesuffix(LORA_SUFFIX)

    @property
    def scheduled(self) -> bool:
        """Whether the weight is a schedule (it may change from clip to clip)."""
        return isinstance(self.weight, str)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as settings files write it."""
        return {"file": self.file, "weight": self.weight, "expert": self.expert}


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):
        return False


def find_named_lora(name: str, folders: Sequence[Path] | None = None) -> Path | None:
    """The file a LoRA name (or a path relative to a LoRA folder) means, or None: the first
    `<folder>/<name>` or `<folder>/<name>.safetensors` that is a file inside its folder."""
    if Path(name).is_absolute():
        return None
    for folder in lora_folders() if folders is None else folders:
        for candidate in (folder / name, folder / (name + LORA_SUFFIX)):
            if candidate.suffix.lower() == LORA_SUFFIX and candidate.is_file() and _inside(candidate, folder):
                return candidate.resolve()
    return None


def resolve_lora_file(value: Any) -> str:
    """The file a LoRA setting names (see the module doc); Invalid says why not."""
    text, path = caller_path(value, "models")  # refuses URLs, NUL and paths outside the folders
    if path is None:
        raise Invalid("needs a LoRA file: a name in the LoRA folders or a path")
    found = find_named_lora(str(value).strip())
    if found is not None:
        if not current_file_access().allows("models", found):
            raise Invalid("not allowed: name a LoRA inside the server's LoRA folders")
        return str(found)
    named = str(value).strip()
    in_folder = not Path(named).is_absolute() and any((f / named).is_file() for f in lora_folders())
    if not path.is_file() and not in_folder:
        where = ", ".join(str(folder) for folder in lora_folders())
        raise Invalid(f"no such file, and no LoRA of that name in the LoRA folders ({where})")
    if path.suffix.lower() != LORA_SUFFIX or in_folder:
        raise Invalid(f"must be a LoRA file ({LORA_SUFFIX}); other formats can run code when loaded")
    return text


def lora_weight(value: Any) -> float | str:
    """A number from -10 to 10, or a Deforum schedule text (syntax checked here, values when
    the animation's length is known)."""
    if isinstance(value, bool):
        raise Invalid("must be a number or a schedule, not true/false")
    if isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.match(value)):
        number = float(value)
        if not -WEIGHT_LIMIT <= number <= WEIGHT_LIMIT:  # also refuses nan and inf
            raise Invalid(f"must be from {-WEIGHT_LIMIT:g} to {WEIGHT_LIMIT:g}")
        return number
    if not isinstance(value, str) or not value.strip():
        raise Invalid("must be a number or a schedule such as 0:(0.8), 96:(0.2)")
    if len(value) > 2000:
        raise Invalid("a weight schedule has at most 2000 characters")
    try:
        parse_keyframes(value, 100_000, name="weight")
    except ScheduleError as exc:
        raise Invalid(f"weight schedule: {exc.detail}") from None
    return value.strip()


def _expert(value: Any) -> str:
    word = str(value).strip().lower() if isinstance(value, str) else value
    if word not in EXPERTS:
        raise Invalid(f"expert must be one of {', '.join(EXPERTS)}")
    return word


def _entry_of_text(text: str) -> dict[str, Any]:
    """`FILE[:WEIGHT][@EXPERT]` as an entry object."""
    entry: dict[str, Any] = {}
    expert = _EXPERT_SUFFIX.search(text)
    if expert:
        entry["expert"] = expert.group(1)
        text = text[: expert.start()]
    split = _WEIGHT_START.search(text)
    if split:
        entry["weight"] = text[split.end() :].strip()
        text = text[: split.start()]
    entry["file"] = text.strip()
    return entry


def _entry(value: Any) -> LoraSpec:
    if isinstance(value, LoraSpec):
        value = value.to_dict()
    if isinstance(value, str):
        value = _entry_of_text(value)
    if not isinstance(value, Mapping):
        raise Invalid('must be an object {"file": ..., "weight": ..., "expert": ...} or FILE:WEIGHT text')
    unknown = sorted(str(key) for key in value if key not in ("file", "weight", "expert"))
    if unknown:
        raise Invalid(f"unknown key(s) {', '.join(unknown)}; an entry has file, weight and expert")
    return LoraSpec(
        resolve_lora_file(value.get("file", "")),
        lora_weight(value.get("weight", 1.0)),
        _expert(value.get("expert", "both")),
    )


def _entries(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in re.split(r"[;\n]", value) if part.strip()]
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise Invalid("must be a list of LoRAs")


@dataclass(frozen=True)
class LoraList:
    """The `loras` validator: a list of entries (objects or short text), each checked."""

    def __call__(self, value: Any) -> tuple[LoraSpec, ...]:
        entries = _entries(value)
        if len(entries) > MAX_LORAS:
            raise Invalid(f"at most {MAX_LORAS} LoRAs (got {len(entries)})")
        checked = []
        for index, entry in enumerate(entries):
            try:
                checked.append(_entry(entry))
            except Invalid as exc:
                shown = entry.get("file", "") if isinstance(entry, Mapping) else entry
                raise Invalid(f"entry {index + 1} ({str(shown)[:60]!r}): {exc}") from None
        return tuple(checked)

    def describe(self) -> str:
        """What the field allows, in words."""
        return (
            f'a list of up to {MAX_LORAS} LoRAs, each {{"file": name or path, "weight": number or schedule, '
            '"expert": both|high|low}, or the text FILE:WEIGHT; FILE:WEIGHT'
        )

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of the canonical form (for the REST API's schema)."""
        entry = {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {"type": "string", "maxLength": 4096},
                "weight": {
                    "anyOf": [
                        {"type": "number", "minimum": -WEIGHT_LIMIT, "maximum": WEIGHT_LIMIT},
                        {"type": "string", "maxLength": 2000},
                    ],
                    "default": 1.0,
                },
                "expert": {"type": "string", "enum": list(EXPERTS), "default": "both"},
            },
            "additionalProperties": False,
        }
        return {
            "anyOf": [{"type": "array", "items": entry, "maxItems": MAX_LORAS}, {"type": "string"}],
            "example": [{"file": "detail", "weight": "0:(0.8), 96:(0.2)", "expert": "both"}],
        }


@dataclass(frozen=True)
class LoraOptions(SettingsGroup):
    """The LoRAs a render loads (see the module doc)."""

    PREFIX: ClassVar[str] = ""

    loras: tuple[LoraSpec, ...] = setting(
        (),
        LoraList(),
        "LoRA files with their weight (a number, or a Deforum schedule applied per clip) and expert",
        label="LoRAs",
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_weights", {})
        super().__post_init__()

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready dict with the settings-file keys."""
        return {"loras": [lora.to_dict() for lora in self.loras]}

    def weight_values(self, index: int, max_frames: int, seed: int = -1) -> np.ndarray:
        """The weight of LoRA `index` at every output frame (evaluated once; read-only)."""
        weight = self.loras[index].weight
        key = (index, max_frames, seed)
        cache: dict[Any, np.ndarray] = self._weights  # type: ignore[attr-defined]
        if key not in cache:
            if isinstance(weight, str):
                values = evaluate_schedule(weight, max_frames, seed=seed, name=f"loras[{index}].weight")
            else:
                values = np.full(max_frames, float(weight))
            values.flags.writeable = False
            cache[key] = values
        return cache[key]

    def weight_errors(self, max_frames: int, seed: int = -1) -> list[FieldError]:
        """Weight schedules that fail over the animation or leave -10..10."""
        errors = []
        for index, lora in enumerate(self.loras):
            if not lora.scheduled:
                continue
            try:
                values = self.weight_values(index, max_frames, seed)
            except ScheduleError as exc:
                errors.append(FieldError("loras", lora.weight, f"entry {index + 1} weight: {exc.detail}"))
                continue
            outside = np.abs(values) > WEIGHT_LIMIT
            if outside.any():
                frame = int(np.argmax(outside))
                message = (
                    f"entry {index + 1} weight must stay from {-WEIGHT_LIMIT:g} to {WEIGHT_LIMIT:g}; "
                    f"frame {frame} gives {values[frame]:g}"
                )
                errors.append(FieldError("loras", lora.weight, message))
        return errors


def list_loras(folders: Sequence[Path] | None = None) -> list[dict[str, str]]:
    """The LoRA files in the LoRA folders: {"name" (what settings may say), "file", "folder"},
    sorted by name; a name found in an earlier folder hides the same name in a later one."""
    found: dict[str, dict[str, str]] = {}
    for folder in lora_folders() if folders is None else folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*" + LORA_SUFFIX)):
            if not path.is_file() or not _inside(path, folder):
                continue
            name = path.relative_to(folder).as_posix().removesuffix(LORA_SUFFIX)
            found.setdefault(name, {"name": name, "file": str(path.resolve()), "folder": str(folder)})
    return [found[name] for name in sorted(found, key=str.lower)]
