"""The base of every settings group: a frozen dataclass validated on construction.

A group's fields are declared with `fields.setting(default, validator, help)`; its keys in a
settings file are the field names with the group's PREFIX (`speed_` + `preset`). Rules that
involve several fields of the group are methods named `_rule_*` returning FieldErrors: they run
once every field is valid on its own, so each rule may assume valid values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from .fields import FieldError, SettingsError, Spec, check_fields, did_you_mean, specs_of


class SettingsGroup:
    """Validation on construction for the settings dataclasses (see the module doc)."""

    PREFIX: ClassVar[str] = ""

    def __post_init__(self) -> None:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        normalised, errors = check_fields(type(self), values, self.PREFIX)
        for name, value in normalised.items():
            object.__setattr__(self, name, value)
        errors += self._nested_errors()
        if not errors:
            errors = [error for rule in self._rules() for error in rule()]
        if errors:
            raise SettingsError(errors)

    def _nested_errors(self) -> list[FieldError]:
        return []

    def _rules(self) -> list[Any]:
        """The bound `_rule_*` methods, in the order they are defined."""
        names = [
            name for cls in reversed(type(self).__mro__) for name in vars(cls) if name.startswith("_rule_")
        ]
        return [getattr(self, name) for name in dict.fromkeys(names)]

    @classmethod
    def specs(cls) -> list[Spec]:
        """The Specs of this class's own (non-group) fields, with their flat keys."""
        return specs_of(cls, cls.PREFIX)

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready dict with the settings-file keys."""
        return {spec.key: getattr(self, spec.name) for spec in self.specs()}

    def values(self) -> dict[str, Any]:
        """The group's own settings by field name (`method`, not `interpolation_method`)."""
        return {spec.name: getattr(self, spec.name) for spec in self.specs()}


def group_from_mapping(cls: type[SettingsGroup], values: Mapping[str, Any]) -> Any:
    """Build a group from a mapping keyed by field name or by flat/short key."""
    by_key: dict[str, str] = {}
    for spec in cls.specs():
        short = spec.key.removeprefix(cls.PREFIX)
        for key in (spec.name, spec.key, short, *spec.aliases):
            by_key[key] = spec.name
    kwargs: dict[str, Any] = {}
    errors: list[FieldError] = []
    for key, value in values.items():
        if key in by_key:
            kwargs[by_key[key]] = value
        else:
            flat = cls.PREFIX + str(key)
            hint = did_you_mean(flat, [s.key for s in cls.specs()])
            errors.append(FieldError(flat, value, "unknown setting" + hint, echo=False))
    if errors:
        raise SettingsError(errors)
    return cls(**kwargs)


def group_field(cls: type[SettingsGroup]) -> Any:
    """A WanConfig field holding one settings group (its defaults unless given)."""
    return dataclasses.field(default_factory=cls, metadata={"group": cls})
