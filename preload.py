"""WebUI preload: command-line flags of the Wan Video extension (read before the UI starts)."""


def preload(parser):
    """Add the extension's flags to the WebUI's argument parser."""
    group = parser.add_argument_group("Wan Video")
    group.add_argument(
        "--wan-models-dir",
        type=str,
        default=None,
        help="Folder with Wan models in diffusers format (default: models/wan inside the WebUI)",
    )
    group.add_argument(
        "--wan-output-dir",
        type=str,
        default=None,
        help="Folder where Wan Video writes its runs (default: outputs/wan-videos inside the WebUI)",
    )
    group.add_argument(
        "--wan-runtime-dir",
        type=str,
        default=None,
        help="Folder of Wan Video's own Python environment for its GPU workers (default: runtime/ in the "
        "extension's folder; also $WAN_RUNTIME_DIR)",
    )
    group.add_argument(
        "--wan-allow-download",
        action="store_true",
        help="Let Wan Video download missing models from the Hugging Face hub (overrides the setting)",
    )
    group.add_argument(
        "--wan-chat-server",
        action="append",
        default=None,
        metavar="URL",
        help="A chat server Wan Video's API may call for prompt enhancement (repeatable)",
    )
    group.add_argument(
        "--wan-disable-api",
        action="store_true",
        help="Do not add Wan Video's REST routes (/wan/v1) to the WebUI's server",
    )
