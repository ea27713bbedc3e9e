"""The one base class of bad input: every error a user can cause (a malformed file, an option or config value
out of range, a model file that does not fit) is an ``InputError``. The command line reports these in one line
with exit code 2; any other exception is a bug in window-ner, shown with its traceback."""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input: the message names the file and line, the option or the value, and what was expected."""
