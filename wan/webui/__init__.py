"""The WebUI host adapter: everything that knows about Automatic1111 / Forge (their modules,
options, locks, progress bar and command-line flags) lives here, above the service and the UI,
which know nothing of the host. scripts/wan_video.py wires these functions to the WebUI's
callbacks; the standalone server needs none of this package."""
