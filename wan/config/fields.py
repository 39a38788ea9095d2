"""Typed settings fields: one validator per kind of value, each able to say what it allows.

A validator is called with the raw value (from JSON, a form or Python) and returns the
normalised value or raises `Invalid` with a message that says what is allowed. The same
objects describe the fields to the CLI and, later, to the UI (ranges, choices, help).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import WanError


class Invalid(ValueError):
    """A value a field does not accept; the message says what it allows."""


SHOWN_VALUE_LENGTH = 80
SHOWN_KEY_LENGTH = 200
# how similar a word must be to a setting's name to be offered as "did you mean"
NEAR_MISS = 0.75


@dataclass(frozen=True)
class FieldError:
    """One bad setting: its key, the value given and what is wrong with it. `echo` False keeps
    the value out of messages (an unknown key's value may be anything, e.g. a file's contents)."""

    key: str
    value: Any
    message: str
    echo: bool = True

    def shown_value(self) -> Any:
        """The value as error messages show it: JSON-friendly and at most 80 characters long."""
        if not self.echo:
            return None
        value = self.value
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if isinstance(value, str):
            return value if len(value) <= SHOWN_VALUE_LENGTH else value[: SHOWN_VALUE_LENGTH - 3] + "..."
        if isinstance(value, (int, float, bool, type(None))) and len(repr(value)) <= SHOWN_VALUE_LENGTH:
            return value
        shown = repr(value)
        return shown if len(shown) <= SHOWN_VALUE_LENGTH else shown[: SHOWN_VALUE_LENGTH - 3] + "..."

    def shown_key(self) -> str:
        """The key as error messages show it: at most 200 characters (a caller's unknown key may
        be as long as the body)."""
        return self.key if len(self.key) <= SHOWN_KEY_LENGTH else self.key[: SHOWN_KEY_LENGTH - 3] + "..."

    def __str__(self) -> str:
        if not self.echo:
            return f"{self.shown_key()}: {self.message}"
        return f"{self.shown_key()}: {self.message} (got {self.shown_value()!r})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form for API error bodies."""
        return {"field": self.shown_key(), "value": self.shown_value(), "message": self.message}


class SettingsError(WanError, ValueError):
    """Every problem found in a settings object at once."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.errors)
        head = "1 setting is not valid" if count == 1 else f"{count} settings are not valid"
        return head + ":\n" + "\n".join(f"  - {e}" for e in self.errors)


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """ "; did you mean 'x'?" for the closest option (to append to a message), or ''."""
    close = difflib.get_close_matches(word, sorted(set(options)), n=1, cutoff=NEAR_MISS)
    return f"; did you mean '{close[0]}'?" if close else ""


# Numbers written as text: plain ASCII decimals. Python's int() and float() also take other
# scripts' digits ("٣٠"), underscores ("1_0") and thousands of digits; a setting takes none of these.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?\Z")
_MAX_NUMBER_TEXT = 100


def _decimal_text(value: str) -> str | None:
    text = value.strip()
    if len(text) > _MAX_NUMBER_TEXT or not _DECIMAL.match(text):
        return None
    return text


def _whole_number(value: Any) -> int:
    if isinstance(value, bool):
        raise Invalid("must be a whole number, not true/false")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = _decimal_text(value)
        if text is not None and text.lstrip("+-").isdigit():
            return int(text)
        if text is not None and (number := float(text)).is_integer():  # "12.0", "1e3"; inf is not
            return int(number)
    raise Invalid("must be a whole number")


def _real_number(value: Any) -> float:
    if isinstance(value, bool):
        raise Invalid("must be a number, not true/false")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        text = _decimal_text(value)
        if text is None:
            raise Invalid("must be a number")
        number = float(text)
    else:
        raise Invalid("must be a number")
    if not math.isfinite(number):
        raise Invalid("must be a finite number")
    return number


@dataclass(frozen=True)
class Integer:
    """A whole number in [minimum, maximum]; None allowed when optional (= a default applies)."""

    minimum: int
    maximum: int
    optional: bool = False

    def __call__(self, value: Any) -> int | None:
        if value is None and self.optional:
            return None
        try:
            number = _whole_number(value)
        except Invalid:
            raise Invalid(f"must be {self.describe()}") from None
        if not self.minimum <= number <= self.maximum:
            raise Invalid(f"must be {self.describe()}")
        return number

    def describe(self) -> str:
        """What the field allows, in words."""
        text = f"a whole number from {self.minimum} to {self.maximum}"
        return text + (", or null for the model's default" if self.optional else "")


@dataclass(frozen=True)
class MultipleOf(Integer):
    """A whole number that must be a multiple of `step` (suggests the nearest valid one)."""

    step: int = 16
    reason: str = ""

    def __call__(self, value: Any) -> int | None:
        number = super().__call__(value)
        if number is not None and number % self.step:
            lower = number - number % self.step
            nearest = lower + self.step if number - lower > self.step / 2 else lower
            nearest = min(max(nearest, self.minimum), self.maximum)
            raise Invalid(f"must be a multiple of {self.step}{self.reason}; nearest valid: {nearest}")
        return number

    def describe(self) -> str:
        """What the field allows, in words."""
        return f"a multiple of {self.step} from {self.minimum} to {self.maximum}"


@dataclass(frozen=True)
class FourNPlusOne(Integer):
    """A frame count of the form 4n+1 (Wan's VAE compresses time by 4 after the first frame)."""

    def __call__(self, value: Any) -> int | None:
        number = super().__call__(value)
        if number is not None and number % 4 != 1:
            below = number - (number - 1) % 4
            above = below + 4
            options = [n for n in (below, above) if self.minimum <= n <= self.maximum]
            nearest = min(options, key=lambda n: (abs(n - number), -n))
            examples = f"{self.minimum}, {self.minimum + 4}, ..., {self.maximum}"
            raise Invalid(f"must be 4n+1 ({examples}); nearest valid: {nearest}")
        return number

    def describe(self) -> str:
        """What the field allows, in words."""
        text = f"a frame count 4n+1 from {self.minimum} to {self.maximum}"
        return text + (", or null for the model's default" if self.optional else "")


@dataclass(frozen=True)
class Number:
    """A finite real number in [minimum, maximum]; None allowed when optional."""

    minimum: float
    maximum: float
    optional: bool = False
    exclusive_minimum: bool = False

    def __call__(self, value: Any) -> float | None:
        if value is None and self.optional:
            return None
        try:
            number = _real_number(value)
        except Invalid:
            raise Invalid(f"must be {self.describe()}") from None
        too_low = number <= self.minimum if self.exclusive_minimum else number < self.minimum
        if too_low or number > self.maximum:
            raise Invalid(f"must be {self.describe()}")
        return number

    def describe(self) -> str:
        """What the field allows, in words."""
        low = "above" if self.exclusive_minimum else "from"
        text = f"a number {low} {self.minimum:g} to {self.maximum:g}"
        return text + (", or null for the model's default" if self.optional else "")


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of words (case-insensitive; `aliases` map other spellings)."""

    options: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, value: Any) -> str:
        if isinstance(value, str):
            wanted = value.strip().lower()
            for option in self.options:
                if wanted == option.lower():
                    return option
            for alias, option in self.aliases.items():
                if wanted == alias.lower():
                    return option
        hint = did_you_mean(value, self.options) if isinstance(value, str) else ""
        raise Invalid(f"must be {self.describe()}{hint}")

    def describe(self) -> str:
        """What the field allows, in words."""
        return "one of " + ", ".join(self.options)


@dataclass(frozen=True)
class Flag:
    """true or false (also accepts 0/1 and the words yes/no, on/off)."""

    _WORDS: ClassVar[dict[str, bool]] = {
        "true": True,
        "false": False,
        "yes": True,
        "no": False,
        "on": True,
        "off": False,
        "1": True,
        "0": False,
    }

    def __call__(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in self._WORDS:
            return self._WORDS[value.strip().lower()]
        raise Invalid(f"must be {self.describe()}")

    def describe(self) -> str:
        """What the field allows, in words."""
        return "true or false"


@dataclass(frozen=True)
class Text:
    """Free text up to `max_length` characters, without NUL characters; null counts as empty."""

    max_length: int = 10_000

    def __call__(self, value: Any) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise Invalid(f"must be {self.describe()}")
        if len(value) > self.max_length:
            raise Invalid(f"must be at most {self.max_length} characters long (has {len(value)})")
        if "\x00" in value:  # no setting holds one; C libraries (paths, tokenizers) cut text there
            raise Invalid("must be text without NUL characters")
        return value

    def describe(self) -> str:
        """What the field allows, in words."""
        return f"text of at most {self.max_length} characters"


@dataclass(frozen=True)
class Converted:
    """A value checked and normalised by a function that raises ValueError with the reason."""

    convert: Callable[[Any], Any]
    description: str

    def __call__(self, value: Any) -> Any:
        try:
            return self.convert(value)
        except Invalid:
            raise
        except ValueError as exc:
            raise Invalid(str(exc)) from None

    def describe(self) -> str:
        """What the field allows, in words."""
        return self.description


Validator = Any  # Integer, Number, Choice, Flag, Text, Converted, files.LocalFile, ...


@dataclass(frozen=True)
class Spec:
    """How one dataclass field appears in settings files and front ends: its key, validator,
    help text, the label a form shows, and other keys that mean the same setting."""

    name: str
    key: str
    check: Validator
    help: str
    label: str
    aliases: tuple[str, ...] = ()


def setting(
    default: Any,
    check: Validator,
    help: str,
    *,
    key: str | None = None,
    label: str | None = None,
    aliases: tuple[str, ...] = (),
) -> Any:
    """Declare a validated settings field (a dataclass field with its Spec in the metadata).
    `label` is what forms show (default: the key in words, e.g. "Max frames")."""
    metadata = {"check": check, "help": help, "key": key, "label": label, "aliases": aliases}
    return field(default=default, metadata=metadata)


def label_of(name: str) -> str:
    """A setting's name in words: max_frames -> Max frames."""
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def specs_of(cls: type, prefix: str = "") -> list[Spec]:
    """The Specs of a settings dataclass's validated fields, keys prefixed for groups."""
    result = []
    for f in dataclasses.fields(cls):
        if "check" not in f.metadata:
            continue
        key = prefix + (f.metadata["key"] or f.name)
        aliases = tuple(prefix + a for a in f.metadata["aliases"])
        label = f.metadata["label"] or label_of(f.metadata["key"] or f.name)
        result.append(Spec(f.name, key, f.metadata["check"], f.metadata["help"], label, aliases))
    return result


def check_fields(cls: type, values: Mapping[str, Any], prefix: str = "") -> tuple[dict, list[FieldError]]:
    """Run every field's validator on `values` (by field name); return normalised values, errors."""
    normalised: dict[str, Any] = {}
    errors: list[FieldError] = []
    for spec in specs_of(cls, prefix):
        if spec.name not in values:
            continue
        try:
            normalised[spec.name] = spec.check(values[spec.name])
        except Invalid as exc:
            errors.append(FieldError(spec.key, values[spec.name], str(exc)))
    return normalised, errors
