"""WebUI entry point of the Wan Video extension: wiring only, the library lives in wan/.

The WebUI imports this file on start; it makes the extension folder importable (and numexpr,
which the extension keeps in its runtime folder when the WebUI's Python lacks it), explains what
to do when the library cannot load, then registers with the WebUI: the Wan Video tab
(on_ui_tabs), its settings section (on_ui_settings), the REST routes on the WebUI's app
(on_app_started, again on every "Reload UI", which makes a new app) and a clean stop of the
workers when the WebUI stops (on_script_unloaded; a "Reload UI" keeps them and their job).
Everything else lives in wan.webui.
"""

import sys
from pathlib import Path

from modules import script_callbacks, scripts

# scripts.basedir() is only valid while this file is being imported: capture it now.
EXTENSION_DIR = Path(scripts.basedir())
if str(EXTENSION_DIR) not in sys.path:
    sys.path.insert(0, str(EXTENSION_DIR))

try:
    from wan.runtime.front import front_missing, use_front_packages
    from wan.webui.host import runtime_env

    use_front_packages(runtime_env().root)
    if front_missing():
        raise ImportError(f"{', '.join(front_missing())} cannot be imported")
    import wan.config  # noqa: F401

    LIBRARY_ERROR = None
except ImportError as exc:
    LIBRARY_ERROR = (
        f"Wan Video cannot load its library: {exc}. Restart the WebUI without --skip-install so that "
        "the extension's install.py prepares it (nothing is installed into the WebUI's own packages)."
    )
    print(LIBRARY_ERROR, file=sys.stderr)


def _on_ui_tabs():
    from wan.webui.extension import tab

    try:
        return tab()
    except Exception as exc:  # a broken tab must not take the WebUI down with it
        print(f"Wan Video: the tab could not be built: {exc}", file=sys.stderr)
        return []


def _on_ui_settings():
    from modules import shared

    from wan.webui.options import register_options

    register_options(shared)


def _on_app_started(_demo, app):
    from wan.webui.extension import mount

    mount(app)


def _on_before_reload():
    from wan.webui.extension import reloading

    reloading()


def _on_script_unloaded():
    from wan.webui.extension import unloaded

    unloaded()


if LIBRARY_ERROR is None:
    script_callbacks.on_ui_tabs(_on_ui_tabs)
    script_callbacks.on_ui_settings(_on_ui_settings)
    script_callbacks.on_app_started(_on_app_started)
    if hasattr(script_callbacks, "on_before_reload"):  # A1111 1.6+ and Forge
        script_callbacks.on_before_reload(_on_before_reload)
    script_callbacks.on_script_unloaded(_on_script_unloaded)
