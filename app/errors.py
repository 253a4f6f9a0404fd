"""Errors of the application layer."""

from __future__ import annotations


class StartupError(Exception):
    """The service cannot start on this data directory; the message says why and what to do."""


class ServiceFailedError(Exception):
    """The log failed (a write or fsync error): the service refuses all further work."""
