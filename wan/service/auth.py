"""Who may use the REST API: HTTP Basic credentials in the WebUI's `--api-auth` format
(`user:password[,user2:password2]`), and the rule for a server that has none.

Inside the WebUI the extension follows the host: its `--api-auth` when given, else its
`--gradio-auth` (and `--gradio-auth-path`) credentials, else, when the WebUI listens beyond
this machine, the routes that generate or call out are refused with the reason (a WebUI on a
network with no password must not hand its GPU to anyone who finds it). Passwords are compared
in constant time; the scheme name is case-insensitive (RFC 7617).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class CredentialsError(ValueError):
    """Credentials text that cannot be used (says which entry and why)."""


def parse_credentials(text: str | None, *, option: str = "--api-auth") -> dict[str, str]:
    """{user: password} from `user:password,user2:password2` (None or "" gives {}). An entry
    without a user or password, a user given twice, or text with no entry at all is an error."""
    if text is None or not text.strip():
        return {}
    credentials: dict[str, str] = {}
    for entry in text.split(","):
        if not entry.strip():
            continue
        user, sep, password = entry.strip().partition(":")
        if not sep or not user:
            raise CredentialsError(f"{option} entries are user:password, not {entry.strip()!r}")
        if not password:
            raise CredentialsError(f"{option}: user {user!r} has an empty password")
        if user in credentials:
            raise CredentialsError(f"{option}: user {user!r} is given twice")
        credentials[user] = password
    if not credentials:
        raise CredentialsError(f"{option} gives no user:password (leave it out to turn authentication off)")
    return credentials


def read_credentials_file(path: str | Path, *, option: str = "--gradio-auth-path") -> dict[str, str]:
    """Credentials from a file of `user:password` entries (lines or commas), as the WebUI reads it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CredentialsError(f"{option}: cannot read {path}: {exc.strerror or exc}") from None
    entries = [part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()]
    return parse_credentials(",".join(entries), option=option)


def check_basic(header: str | None, credentials: dict[str, str]) -> bool:
    """Whether an Authorization header carries one of the credentials (always True without any)."""
    if not credentials:
        return True
    if not header:
        return False
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return False
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    user, _, password = decoded.partition(":")
    # compare against every entry so the time taken does not tell which user exists
    matched = False
    for known_user, known_password in credentials.items():
        same_user = secrets.compare_digest(user.encode(), known_user.encode())
        same_password = secrets.compare_digest(password.encode(), known_password.encode())
        matched |= same_user and same_password
    return matched


@dataclass(frozen=True)
class ApiAccess:
    """The API's rule: credentials to ask for, or (without any) a reason to refuse the routes
    that generate or call out (`refuse`), e.g. an open WebUI listening on a network."""

    credentials: dict[str, str] = field(default_factory=dict)
    refuse: str = ""

    @classmethod
    def open(cls) -> ApiAccess:
        """No credentials asked, nothing refused (a server on this machine only)."""
        return cls()


def host_access(
    *,
    api_auth: str | None,
    gradio_auth: str | None,
    gradio_auth_path: str | None,
    listening: bool,
) -> ApiAccess:
    """The rule inside the WebUI (see the module doc); CredentialsError for bad credentials."""
    if api_auth:
        return ApiAccess(parse_credentials(api_auth))
    credentials = parse_credentials(gradio_auth, option="--gradio-auth") if gradio_auth else {}
    if gradio_auth_path:
        credentials |= read_credentials_file(gradio_auth_path)
    if credentials:
        return ApiAccess(credentials)
    if listening:
        return ApiAccess(
            refuse=(
                "this WebUI listens on the network without a password, so Wan Video's API does not "
                "generate or call chat servers for callers: start the WebUI with --api-auth (or "
                "--gradio-auth) user:password"
            )
        )
    return ApiAccess.open()
