"""Probe a running host: is the Wan Video tab there, and which routes answer with which credentials.

    python tests/hosts/probe.py http://127.0.0.1:7860 [--api-auth USER:PASS] [--gradio-auth USER:PASS]

For each route it prints the HTTP status without credentials, with HTTP basic credentials
(--api-auth) and after a gradio login (--gradio-auth: POST /login, then the session cookie), so
a run shows what the host's --api-auth / --gradio-auth protect. Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request

ROUTES = [
    "/",
    "/config",
    "/internal/ping",
    "/sdapi/v1/cmd-flags",
    "/sdapi/v1/options",
    "/wan/v1/version",
    "/wan/v1/jobs",
    "/openapi.json",
]


def status(
    opener: urllib.request.OpenerDirector, url: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, TimeoutError) as exc:
        return 0, str(exc).encode()


def basic(credentials: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def tabs(body: bytes) -> list[str]:
    try:
        config = json.loads(body)
    except ValueError:
        return []
    return [
        c.get("props", {}).get("label")
        for c in config.get("components", [])
        if c.get("type") in ("tabitem", "tab")
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--api-auth")
    parser.add_argument("--gradio-auth")
    args = parser.parse_args()
    base = args.url.rstrip("/")

    plain = urllib.request.build_opener()
    logged_in = None
    if args.gradio_auth:
        jar = http.cookiejar.CookieJar()
        logged_in = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        user, password = args.gradio_auth.split(":", 1)
        data = urllib.parse.urlencode({"username": user, "password": password}).encode()
        try:
            with logged_in.open(urllib.request.Request(base + "/login", data=data), timeout=30) as response:
                print(f"gradio login: {response.status}, cookies: {sorted(c.name for c in jar)}")
        except urllib.error.HTTPError as exc:
            print(f"gradio login: {exc.code} {exc.read()[:200]!r}")

    columns = ["none"] + (["basic"] if args.api_auth else []) + (["gradio login"] if logged_in else [])
    print(f"{'route':24} " + " ".join(f"{c:>12}" for c in columns))
    config_body = b""
    for route in ROUTES:
        results = [status(plain, base + route)]
        if args.api_auth:
            results.append(status(plain, base + route, basic(args.api_auth)))
        if logged_in:
            results.append(status(logged_in, base + route))
        for code, body in results:
            if route == "/config" and code == 200:
                config_body = body
        print(f"{route:24} " + " ".join(f"{code:>12}" for code, _ in results))
    labels = tabs(config_body)
    print("Wan Video tab:", "present" if "Wan Video" in labels else f"absent (tabs seen: {len(labels)})")


if __name__ == "__main__":
    main()
