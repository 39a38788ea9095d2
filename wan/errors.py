"""The base of the project's own errors.

A WanError is input or a situation the user can act on (a bad setting, a missing model, a
server that is down): front ends show its message in one line (the CLI, a 4xx from the API, a
note in the tab). Any other exception is a bug and keeps its traceback.
"""


class WanError(Exception):
    """An error whose message is meant for the user."""
