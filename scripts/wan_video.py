"""WebUI entry point of the Wan Video extension: wiring only, the library lives in wan/.

The WebUI imports this file on start; it makes the extension folder importable and checks that
the library's packages are there, explaining what to do when install.py did not run (for
example with --skip-install), then registers with the WebUI: the Wan Video tab (on_ui_tabs), its
settings section (on_ui_settings), the REST routes on the WebUI's app (on_app_started, again on
every "Reload UI", which makes a new app) and a clean stop of the job worker when scripts unload
(on_script_unloaded). Everything else lives in wan.service.webui and wan.ui.
"""

import sys
from pathlib import Path

from modules import script_callbacks, scripts

# scripts.basedir() is only valid while this file is being imported: capture it now.
EXTENSION_DIR = Path(scripts.basedir())
if str(EXTENSION_DIR) not in sys.path:
    sys.path.insert(0, str(EXTENSION_DIR))

try:
    import wan.config  # noqa: F401  (imports numpy and numexpr)

    LIBRARY_ERROR = None
except ImportError as exc:
    LIBRARY_ERROR = (
        f"Wan Video cannot load its library: {exc}. Restart the WebUI without --skip-install so "
        f"that the extension's install.py runs, or install the packages yourself: "
        f'pip install "numpy>=1.23" "numexpr>=2.8.5"'
    )
    print(LIBRARY_ERROR, file=sys.stderr)


def _on_ui_tabs():
    from wan.service.webui import tab

    try:
        return tab()
    except Exception as exc:  # a broken tab must not take the WebUI down with it
        print(f"Wan Video: the tab could not be built: {exc}", file=sys.stderr)
        return []


def _on_ui_settings():
    from modules import shared

    from wan.service.webui import register_options

    register_options(shared)


def _on_app_started(_demo, app):
    from wan.service.webui import mount

    mount(app)


def _on_script_unloaded():
    from wan.service.webui import shutdown

    shutdown()


if LIBRARY_ERROR is None:
    script_callbacks.on_ui_tabs(_on_ui_tabs)
    script_callbacks.on_ui_settings(_on_ui_settings)
    script_callbacks.on_app_started(_on_app_started)
    script_callbacks.on_script_unloaded(_on_script_unloaded)
