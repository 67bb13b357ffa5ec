"""The meta tests run under the conformance suite's Hypothesis profile
(`ci` unless `--profile` or $SNNAX_REF_PROFILE says otherwise), as they
did inside spec_tests: derandomized, no deadline, the same health checks."""

import os

from hypothesis import settings

from spec_tests import compilation_cache, quick_compile
from spec_tests.profiles import PROFILE_ENV, register_profiles

register_profiles()


def pytest_configure(config):
    compilation_cache.enable()
    quick_compile.enable()
    # `--profile` exists when spec_tests/conftest.py is loaded in the same session.
    settings.load_profile(config.getoption("--profile", default=None)
                          or os.environ.get(PROFILE_ENV) or "ci")
