"""Errors a user can cause, and how they surface.

A :class:`UserError` is a problem with the user's input (a file, a flag, a server address). The CLI
prints its message as one line and exits with code 2; library code raises it and never prints.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

USER_ERROR_EXIT_CODE = 2


class UserError(Exception):
    """A problem the user can fix; its message is the whole story, in one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class DataError(UserError):
    """Bad or missing input data (file, column, row, image)."""


class ConfigError(UserError):
    """A bad configuration value, key or file."""


class TrackingError(UserError):
    """The MLflow tracking store cannot be reached or refuses the request."""
