"""HTTP Basic authentication in the WebUI's `--api-auth` format: `user:password[,user2:pass2]`.

The WebUI applies its --api-auth only to its own /sdapi routes, so the extension checks the same
credentials on its routes itself. Passwords are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import secrets


def parse_credentials(text: str | None) -> dict[str, str]:
    """{user: password} from `user:password,user2:password2` (ValueError names a bad entry)."""
    credentials: dict[str, str] = {}
    for entry in (text or "").split(","):
        if not entry.strip():
            continue
        user, sep, password = entry.strip().partition(":")
        if not sep or not user:
            raise ValueError(f"--api-auth entries are user:password, not {entry.strip()!r}")
        credentials[user] = password
    return credentials


def check_basic(header: str | None, credentials: dict[str, str]) -> bool:
    """Whether an Authorization header carries one of the credentials (always True without any)."""
    if not credentials:
        return True
    if not header or not header.startswith("Basic "):
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, _, password = decoded.partition(":")
    # compare against every entry so the time taken does not tell which user exists
    matched = False
    for known_user, known_password in credentials.items():
        same_user = secrets.compare_digest(user.encode(), known_user.encode())
        same_password = secrets.compare_digest(password.encode(), known_password.encode())
        matched |= same_user and same_password
    return matched
