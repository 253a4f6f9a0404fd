"""Hooks for `schemathesis run` by hand: a stranger's login (`stranger.py`).

    CHAT_BASE=http://127.0.0.1:PORT SCHEMATHESIS_HOOKS=tests.transport.api.stranger_hooks \
        schemathesis run --checks all -n 30 http://127.0.0.1:PORT/openapi.json

Importing this module registers the providers with schemathesis for the
whole process: only `schemathesis run` should import it.
"""

from __future__ import annotations

import os

import schemathesis

from tests.transport.api.stranger import register

register(schemathesis.auth, os.environ["CHAT_BASE"])
