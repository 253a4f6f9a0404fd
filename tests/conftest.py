"""Test configuration shared by the whole suite: hypothesis profiles.

`ci` is derandomised so that a red run can be reproduced; `dev` is quick for
local iteration; `soak` runs long. Pick one with HYPOTHESIS_PROFILE; CI=true
selects `ci` by default.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("soak", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
