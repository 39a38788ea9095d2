"""Settings: frozen dataclasses validated at the edge, JSON I/O and Deforum settings import."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .deforum import ImportReport, translate
from .fields import FieldError, SettingsError, Spec, check_fields, did_you_mean
from .settings import (
    ANIMATION_MODES,
    DEFAULT_NEGATIVE_PROMPT,
    GROUPS,
    MOVEMENT_SCHEDULES,
    SEED_BEHAVIORS,
    EnhancementOptions,
    InterpolationOptions,
    MemoryOptions,
    MovementOptions,
    OutputOptions,
    ShakeOptions,
    SpeedOptions,
    StyleOptions,
    WanConfig,
)

__all__ = [
    "ANIMATION_MODES",
    "DEFAULT_NEGATIVE_PROMPT",
    "GROUPS",
    "MOVEMENT_SCHEDULES",
    "SEED_BEHAVIORS",
    "EnhancementOptions",
    "FieldError",
    "ImportReport",
    "InterpolationOptions",
    "MemoryOptions",
    "MovementOptions",
    "OutputOptions",
    "SettingsError",
    "ShakeOptions",
    "SpeedOptions",
    "StyleOptions",
    "WanConfig",
    "all_specs",
    "config_from_dict",
    "load_settings",
    "save_settings",
]


def all_specs() -> list[tuple[str | None, Spec]]:
    """Every settings key: (group name or None for top-level fields, its Spec), in file order."""
    result: list[tuple[str | None, Spec]] = [(None, spec) for spec in WanConfig.specs()]
    for group, cls in GROUPS.items():
        result.extend((group, spec) for spec in cls.specs())
    return result


def _key_table() -> dict[str, tuple[str | None, str]]:
    table: dict[str, tuple[str | None, str]] = {}
    for group, spec in all_specs():
        for key in (spec.key, *spec.aliases):
            table[key] = (group, spec.name)
    return table


def _flatten_groups(data: Mapping[str, Any]) -> dict[str, Any]:
    """Accept option groups as nested objects too: {"movement": {"sensitivity": 2}}."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        cls = GROUPS.get(key)
        if cls is not None and isinstance(value, Mapping):
            for inner, inner_value in value.items():
                name = str(inner)
                flat[name if name.startswith(cls.PREFIX) else cls.PREFIX + name] = inner_value
        else:
            flat[str(key)] = value
    return flat


def config_from_dict(data: Any) -> tuple[WanConfig, ImportReport]:
    """Build a WanConfig from a settings object (ours, Deforum's, or both in one object).

    Raises SettingsError listing every bad or unknown key at once.
    """
    if not isinstance(data, Mapping):
        raise SettingsError([FieldError("settings", data, "must be a JSON object of key -> value")])
    table = _key_table()
    flat, report = translate(_flatten_groups(data), [*table, *GROUPS])
    values: dict[str | None, dict[str, Any]] = {None: {}, **{group: {} for group in GROUPS}}
    given_as: dict[tuple[str | None, str], str] = {}
    errors: list[FieldError] = []
    for key, value in flat.items():
        target = table.get(key)
        if target is None:
            hint = did_you_mean(key, table) or "; `python -m wan settings --list` shows every setting"
            errors.append(FieldError(key, value, "unknown setting" + hint))
            continue
        group, name = target
        if target in given_as and values[group][name] != value:
            errors.append(FieldError(key, value, f"is also given as '{given_as[target]}'; give one"))
            continue
        given_as[target] = key
        values[group][name] = value
    for group, cls in GROUPS.items():
        errors += check_fields(cls, values[group], cls.PREFIX)[1]
    errors += check_fields(WanConfig, values[None])[1]
    if errors:
        raise SettingsError(errors)
    groups = {group: GROUPS[group](**values[group]) for group in GROUPS}
    return WanConfig(**values[None], **groups), report


def load_settings(path: str | Path) -> tuple[WanConfig, ImportReport]:
    """Read a settings file: ours (.json) or a Deforum settings file (.txt, JSON inside)."""
    text = Path(path).read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise SettingsError([FieldError(str(path), "<file>", message)]) from None
    return config_from_dict(data)


def save_settings(config: WanConfig, path: str | Path) -> None:
    """Write a settings file that load_settings reads back to an equal WanConfig."""
    Path(path).write_text(config.to_json() + "\n", encoding="utf-8")
