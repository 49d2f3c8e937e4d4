"""Exceptions that carry a message meant for the user (one line, no traceback)."""


class SrsaoaError(Exception):
    """Bad input or configuration: the message says what and how to fix it."""


class RecordingError(SrsaoaError):
    """A recording that cannot be read or does not follow DESIGN section 5."""


class ModelFileError(SrsaoaError):
    """A model file that is missing, corrupt, truncated or does not match."""
