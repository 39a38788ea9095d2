"""Which files a caller may name in settings, and the validators of path settings.

The CLI and the Python API name any file the user can read. A server's callers may not: they
name files only inside the folders the operator chose, one list per kind of file:

- `inputs`: images and settings files (init_image), e.g. the server's input folder and the
  UI's upload folder;
- `models`: model folders, LoRA files and interpolation weights (model, i2v_model, speed_lora,
  interpolation_weights);
- `outputs`: folders a render may write into (output_dir).

The edge that validates a caller's settings (the REST router, the UI's actions) does it inside
`with file_access(FileAccess.restricted(...))`; the path validators below then resolve each path
(symbolic links followed, relative paths taken inside the first folder of their kind) and refuse
one outside those folders with "not allowed", before looking at whether it exists, so an error
never tells a caller whether a file exists elsewhere on the server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .fields import Invalid, Text

Kind = Literal["inputs", "models", "outputs"]
KIND_WORDS = {"inputs": "input", "models": "models", "outputs": "output"}


def _resolved(path: Path) -> Path:
    try:
        return path.expanduser().resolve()
    except (OSError, RuntimeError):  # "~name" with no such user, a symlink loop
        return Path(os.path.abspath(path))


@dataclass(frozen=True)
class FileAccess:
    """The folders callers may name files in, per kind; None for a kind means anywhere."""

    inputs: tuple[Path, ...] | None = None
    models: tuple[Path, ...] | None = None
    outputs: tuple[Path, ...] | None = None

    @classmethod
    def restricted(
        cls,
        *,
        inputs: Sequence[str | Path] = (),
        models: Sequence[str | Path] = (),
        outputs: Sequence[str | Path] = (),
    ) -> FileAccess:
        """Access to these folders only (an empty list: no files of that kind at all)."""

        def roots(folders: Sequence[str | Path]) -> tuple[Path, ...]:
            return tuple(dict.fromkeys(_resolved(Path(folder)) for folder in folders))

        return cls(roots(inputs), roots(models), roots(outputs))

    @property
    def is_restricted(self) -> bool:
        """Whether some kind of file is limited to chosen folders."""
        return any(roots is not None for roots in (self.inputs, self.models, self.outputs))

    def roots(self, kind: Kind) -> tuple[Path, ...] | None:
        """The folders of one kind (None: anywhere)."""
        return getattr(self, kind)

    def resolve(self, kind: Kind, text: str) -> Path:
        """The path a caller means; Invalid("not allowed ...") when it lies outside the folders of
        its kind. Relative paths lie inside the first folder of the kind when access is limited."""
        roots = self.roots(kind)
        if roots is None:
            try:
                return Path(text).expanduser()
            except RuntimeError:  # "~name" where this machine has no user "name"
                return Path(text)
        path = Path(text)  # a caller's "~" is not this server's home folder
        if not roots:
            raise Invalid(f"not allowed: this server takes no {KIND_WORDS[kind]} files from its callers")
        candidate = _resolved(path if path.is_absolute() else roots[0] / path)
        if not any(candidate == root or candidate.is_relative_to(root) for root in roots):
            raise Invalid(
                f"not allowed: name a file inside the server's {KIND_WORDS[kind]} folder "
                f"(a path relative to it), not elsewhere on the server"
            )
        return candidate

    def allows(self, kind: Kind, path: str | Path) -> bool:
        """Whether `path` may be used as a file of `kind`."""
        try:
            self.resolve(kind, str(path))
        except Invalid:
            return False
        return True


UNRESTRICTED = FileAccess()
_current: ContextVar[FileAccess] = ContextVar("wan_file_access", default=UNRESTRICTED)


def current_file_access() -> FileAccess:
    """The access rules settings are validated under now."""
    return _current.get()


@contextmanager
def file_access(access: FileAccess) -> Iterator[FileAccess]:
    """Validate settings under `access` inside the block (per thread and task)."""
    token = _current.set(access)
    try:
        yield access
    finally:
        _current.reset(token)


def _plain_path(value: Any, max_length: int = 4096) -> str:
    if isinstance(value, str) and "\x00" in value:
        raise Invalid("must be a path without NUL characters")
    return Text(max_length)(value).strip()


def caller_path(value: Any, kind: Kind) -> tuple[str, Path | None]:
    """(the text to keep, the path to look at) of a path setting; ("", None) when empty. Under
    limited access the text becomes the resolved absolute path."""
    text = _plain_path(value)
    if not text:
        return "", None
    if "://" in text:
        raise Invalid("must be a local path; URLs are not downloaded, save the file first")
    access = current_file_access()
    path = access.resolve(kind, text)
    return (str(path) if access.roots(kind) is not None else text), path


@dataclass(frozen=True)
class LocalFile:
    """Empty, or an existing file of one of `suffixes` (`what`, e.g. "an image", names it)."""

    kind: Kind
    suffixes: tuple[str, ...]
    what: str

    def __call__(self, value: Any) -> str:
        text, path = caller_path(value, self.kind)
        if path is None:
            return ""
        if not path.is_file():
            raise Invalid("no such file")
        if path.suffix.lower() not in self.suffixes:
            raise Invalid(f"must be {self.what} file ({', '.join(self.suffixes)})")
        return text

    def describe(self) -> str:
        """What the field allows, in words."""
        return f"empty, or the path of {self.what} file ({', '.join(self.suffixes)})"


@dataclass(frozen=True)
class LocalFolder:
    """Empty, or a folder path of `kind` (created when a render writes into it)."""

    kind: Kind
    what: str

    def __call__(self, value: Any) -> str:
        text, path = caller_path(value, self.kind)
        if path is None:
            return ""
        if path.exists() and not path.is_dir():
            raise Invalid("is a file, not a folder")
        return text

    def describe(self) -> str:
        """What the field allows, in words."""
        return f"empty, or {self.what}"


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
ImageFile = LocalFile("inputs", IMAGE_SUFFIXES, "an image")
