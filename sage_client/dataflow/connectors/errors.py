"""The errors connectors raise: configuration is checked when the function is built, the rest
when it first reaches its system (in ``open()``, on the task's thread)."""

from __future__ import annotations


class ConnectorError(RuntimeError):
    """The external system refused or failed an operation; the message names it."""


class ConnectorUnavailable(ConnectorError, ConnectionError):
    """The external system could not be reached (address in the message)."""


class RecordError(ValueError):
    """A record the connector cannot write (the message names the field or column)."""
