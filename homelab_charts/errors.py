"""Errors that name where bad input is: the file, the object and the field."""

from __future__ import annotations


class HomelabError(Exception):
    """Base of every error homelab-charts reports to a user (the CLI prints it, no traceback)."""


#: ``where`` of the errors a value object (a Probe, Resources, a Port...) raises before it
#: belongs to any construct; the component it was made for adds its construct path.
VALUE_PLACES = frozenset({"probe", "resources", "ports", "env", "run_as"})


class ConfigError(HomelabError, ValueError):
    """Bad input: a construct property, a data-file value, a file on disk.

    ``where`` is what holds the bad value (a construct path such as
    ``homelab/databases/postgresql``, or a file name), ``field`` the field inside it.
    """

    def __init__(self, where: str, field: str | None, message: str) -> None:
        self.where = where
        self.field = field
        self.message = message
        location = f"{where}: {field}" if field else where
        super().__init__(f"{location}: {message}")
