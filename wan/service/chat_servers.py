"""Which chat servers this server may call for prompt enhancement, and with whose key.

The operator lists the servers (`--chat-server URL`, repeatable; the WebUI setting; or
$WAN_ENHANCE_API_URL). A caller may pick one of those, and the server's own API key
($WAN_ENHANCE_API_KEY / $OPENAI_API_KEY) goes with the request. Any other URL is refused
unless the caller brings its own key (`enhance_api_key`), and even then only on the public
internet: a caller's URL that names this machine or a private, link-local or reserved network
is refused, so the server cannot be used to probe the networks it can reach. The server's key
never goes to a URL the operator did not list.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

from ..config import EnhancementOptions, FieldError
from ..prompts.backends import public_host

URL_VARIABLE = "WAN_ENHANCE_API_URL"


def normalise(url: str) -> str:
    """A base URL in the form the allow-list compares: lower-case scheme and host, no trailing /."""
    parts = urllib.parse.urlsplit(url.strip())
    return urllib.parse.urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), "", "")
    )


@dataclass(frozen=True)
class ChatServers:
    """The operator's list of chat servers (see the module doc)."""

    allowed: tuple[str, ...] = ()

    @classmethod
    def of(cls, urls: Iterable[str]) -> ChatServers:
        """The list from URLs (empty ones dropped)."""
        return cls(tuple(dict.fromkeys(normalise(u) for u in urls if u and u.strip())))

    @classmethod
    def from_environment(cls, *urls: str) -> ChatServers:
        """`urls` and $WAN_ENHANCE_API_URL."""
        return cls.of([*urls, os.environ.get(URL_VARIABLE, "")])

    def allows(self, url: str) -> bool:
        """Whether `url` is on the operator's list."""
        return normalise(url) in self.allowed

    def problem(self, options: EnhancementOptions, *, own_key: bool) -> FieldError | None:
        """Why these enhancement settings may not make this server call their URL, or None."""
        if options.backend != "openai" or not options.api_url or self.allows(options.api_url):
            return None
        listed = ", ".join(self.allowed) if self.allowed else "none"
        if not own_key:
            message = (
                f"not allowed: this server calls only the chat servers its operator lists ({listed}); "
                "pick one of them, or give your own enhance_api_key for your own server"
            )
            return FieldError("enhance_api_url", options.api_url, message)
        host = urllib.parse.urlsplit(options.api_url).hostname or ""
        if not public_host(host):
            message = (
                "not allowed: a chat server of your own must be on the public internet (this server "
                f"does not call its own machine or private networks for callers; listed: {listed})"
            )
            return FieldError("enhance_api_url", options.api_url, message)
        return None
