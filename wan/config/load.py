"""Settings in and out: a settings object (ours, Deforum's, or both) plus what the user says
explicitly, to a WanConfig; settings files read safely; the settings written back.

Precedence: what the user says explicitly (`--set`, CLI flags, an API field: `overrides`)
beats what a file says (`data`), including keys translated from Deforum or its forks, whatever
key either one uses for a setting (`W` from a fork's `wan_resolution` loses to `--set width=64`).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .deforum import ImportReport, translate
from .fields import FieldError, SettingsError, Spec, check_fields, did_you_mean
from .settings import GROUPS, WanConfig

# A settings file (Deforum's are 20-60 KB) larger than this is not one.
MAX_SETTINGS_BYTES = 4 * 1024 * 1024
# Settings are flat and Deforum's numbers are short; longer ones are not settings.
MAX_NUMBER_DIGITS = 100
# Ours has about 160 keys and a Deforum file about 500; far more is not a settings object.
MAX_SETTINGS_KEYS = 2000
# Unknown keys get a "did you mean" (a fuzzy match, costly) up to this many; the rest a plain note.
MAX_SUGGESTIONS = 20
Target = tuple[str | None, str]  # (group or None for top-level fields, field name)


def all_specs() -> list[tuple[str | None, Spec]]:
    """Every settings key: (group name or None for top-level fields, its Spec), in file order."""
    result: list[tuple[str | None, Spec]] = [(None, spec) for spec in WanConfig.specs()]
    for group, cls in GROUPS.items():
        result.extend((group, spec) for spec in cls.specs())
    return result


def _key_table() -> dict[str, Target]:
    table: dict[str, Target] = {}
    for group, spec in all_specs():
        for key in (spec.key, *spec.aliases):
            table[key] = (group, spec.name)
    return table


def _group_example(group: str) -> str:
    """A nested object for one group, as error messages suggest it: {"mode": "append"}."""
    specs = GROUPS[group].specs()
    spec = next((s for s in specs if default_of(group, s.name) not in ("", None)), specs[0])
    return json.dumps({spec.name: default_of(group, spec.name)}, ensure_ascii=False)


def _flatten_groups(
    data: Mapping[str, Any], table: Mapping[str, Target], errors: list[FieldError]
) -> dict[str, Any]:
    """Accept option groups as nested objects too: {"movement": {"sensitivity": 2}}. A group's
    name with anything but an object is an error that says how to give the group, unless the
    name is also a setting's key (`weights`: the weights format)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        cls = GROUPS.get(str(key))
        if cls is not None and str(key) in table and not isinstance(value, Mapping):
            cls = None
        if cls is not None and isinstance(value, Mapping):
            for inner, inner_value in value.items():
                name = str(inner)
                flat[name if name.startswith(cls.PREFIX) else cls.PREFIX + name] = inner_value
        elif cls is not None:
            message = (
                f"a settings group; give an object such as {_group_example(str(key))} "
                f"or the flat keys {cls.PREFIX}*"
            )
            errors.append(FieldError(str(key), value, message, echo=False))
        else:
            flat[str(key)] = value
    return flat


def _targets(
    flat: Mapping[str, Any], table: Mapping[str, Target], errors: list[FieldError]
) -> dict[Target, tuple[str, Any]]:
    """Each setting given, by its field: (the key it was given as, its value)."""
    found: dict[Target, tuple[str, Any]] = {}
    suggested = 0
    for key, value in flat.items():
        target = table.get(key)
        if target is None:
            hint = did_you_mean(key, table) if suggested < MAX_SUGGESTIONS else ""
            suggested += 1
            hint = hint or "; `python -m wan settings --list` shows every setting"
            errors.append(FieldError(key, value, "unknown setting" + hint, echo=False))
        elif target in found and found[target][1] != value:
            errors.append(FieldError(key, value, f"is also given as '{found[target][0]}'; give one"))
        else:
            found[target] = (key, value)
    return found


def _bounded(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """`data`, unless it (with its nested groups) has more keys than any settings object has."""
    count = len(data) + sum(
        len(value) for key, value in data.items() if key in GROUPS and isinstance(value, Mapping)
    )
    if count > MAX_SETTINGS_KEYS:
        message = f"has {count} keys; a settings object has at most {MAX_SETTINGS_KEYS}"
        raise SettingsError([FieldError(name, None, message, echo=False)])
    return data


def config_from_dict(data: Any, overrides: Mapping[str, Any] | None = None) -> tuple[WanConfig, ImportReport]:
    """A WanConfig from a settings object (ours, Deforum's, or both in one object) and the
    user's explicit `overrides` (which win, see the module doc). Raises SettingsError listing
    every bad or unknown key at once."""
    if not isinstance(data, Mapping):
        raise SettingsError(
            [FieldError("settings", data, "must be a JSON object of key -> value", echo=False)]
        )
    table = _key_table()
    errors: list[FieldError] = []
    flat, report = translate(_flatten_groups(_bounded(data, "settings"), table, errors), [*table, *GROUPS])
    targets = _targets(flat, table, errors)
    if overrides:
        explicit, _ = translate(
            _flatten_groups(_bounded(overrides, "overrides"), table, errors), [*table, *GROUPS]
        )
        targets |= _targets(explicit, table, errors)
    values: dict[str | None, dict[str, Any]] = {None: {}, **{group: {} for group in GROUPS}}
    for (group, name), (_key, value) in targets.items():
        values[group][name] = value
    for group, cls in GROUPS.items():
        errors += check_fields(cls, values[group], cls.PREFIX)[1]
    errors += check_fields(WanConfig, values[None])[1]
    if errors:
        raise SettingsError(errors)
    groups = {group: GROUPS[group](**values[group]) for group in GROUPS}
    return WanConfig(**values[None], **groups), report


class SettingsFileError(SettingsError):
    """A file that cannot be read as settings at all (not a problem of one setting): one line."""

    def __init__(self, path: str | Path, message: str) -> None:
        super().__init__([FieldError(str(path), "<file>", message, echo=False)])

    def __str__(self) -> str:
        return str(self.errors[0])


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise ValueError(f"holds a number with more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def read_settings_file(path: str | Path) -> Any:
    """The JSON value of a settings file: a regular file of at most MAX_SETTINGS_BYTES in UTF-8
    (a byte-order mark for UTF-8 or UTF-16 is honoured). SettingsError says what is wrong."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise SettingsFileError(path, f"cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise SettingsFileError(path, "is not a regular file")
    if info.st_size > MAX_SETTINGS_BYTES:
        raise SettingsFileError(
            path, f"has {info.st_size} bytes; a settings file has at most {MAX_SETTINGS_BYTES}"
        )
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SETTINGS_BYTES + 1)
    except OSError as exc:
        raise SettingsFileError(path, f"cannot be read: {exc.strerror or exc}") from None
    return parse_settings_text(raw, str(path))


def parse_settings_text(raw: bytes, name: str = "settings") -> Any:
    """The JSON value of a settings file's bytes (see read_settings_file)."""
    if len(raw) > MAX_SETTINGS_BYTES:
        raise SettingsFileError(name, f"is larger than {MAX_SETTINGS_BYTES} bytes")
    encoding = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        raise SettingsFileError(name, "is not UTF-8 text (save it as UTF-8)") from None
    try:
        return json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        message = f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise SettingsFileError(name, message) from None
    except RecursionError:
        raise SettingsFileError(
            name, "is not a settings file: it nests arrays or objects too deeply"
        ) from None
    except ValueError as exc:  # a number too long to read
        raise SettingsFileError(name, f"is not a settings file: it {exc}") from None


def load_settings(
    path: str | Path, overrides: Mapping[str, Any] | None = None
) -> tuple[WanConfig, ImportReport]:
    """Read a settings file: ours (.json) or a Deforum settings file (.txt, JSON inside)."""
    return config_from_dict(read_settings_file(path), overrides)


def save_settings(config: WanConfig, path: str | Path) -> None:
    """Write a settings file that load_settings reads back to an equal WanConfig."""
    Path(path).write_text(config.to_json() + "\n", encoding="utf-8")


def default_of(group: str | None, name: str) -> Any:
    """The default value of a setting, as a settings file writes it."""
    holder = WanConfig() if group is None else GROUPS[group]()
    value = getattr(holder, name)
    if name == "clip_seeds":
        return {str(index): seed for index, seed in value}
    return dict(value) if name == "prompts" else value
