"""The application service, its queries, timers, configuration and wiring."""

from app.settings import MIB, Settings

__all__ = ["MIB", "Settings"]
