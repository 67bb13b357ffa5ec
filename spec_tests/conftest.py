"""pytest wiring of the conformance suite: implementation choice, profiles,
known deviations."""

import os

import pytest
from hypothesis import settings

from .adapters import DEFAULT_IMPL, ENV_VAR, load_adapter, read_deviations
from .profiles import PROFILE_ENV, register_profiles

register_profiles()


def pytest_addoption(parser):
    group = parser.getgroup("snnax conformance")
    group.addoption("--impl", default=None,
                    help=f"adapter under test as module:attr (env {ENV_VAR}; "
                         f"default {DEFAULT_IMPL})")
    group.addoption("--profile", default=None, choices=["ci", "thorough"],
                    help=f"Hypothesis profile (env {PROFILE_ENV}; default ci)")


def _impl(config):
    return config.getoption("--impl") or os.environ.get(ENV_VAR) or DEFAULT_IMPL


def pytest_configure(config):
    profile = config.getoption("--profile") or os.environ.get(PROFILE_ENV) or "ci"
    settings.load_profile(profile)
    config.snnax_profile = profile


def pytest_report_header(config):
    return [f"snnax conformance: impl = {_impl(config)}, "
            f"hypothesis profile = {config.snnax_profile}"]


@pytest.fixture(scope="session")
def adapter(request):
    return load_adapter(_impl(request.config))


def pytest_collection_modifyitems(config, items):
    """Skip what the adapter's known-deviations file lists (skips, not xfails:
    shrinking a known failure is slow)."""
    try:
        adapter = load_adapter(_impl(config))
    except Exception as error:  # noqa: BLE001 - reported on every conformance test
        marker = pytest.mark.skip(reason=f"adapter {_impl(config)} unavailable: {error}")
        for item in items:
            if "adapter" in getattr(item, "fixturenames", ()):
                item.add_marker(marker)
        return
    deviations = read_deviations(getattr(adapter, "deviations_file", None))
    for item in items:
        test_id = item.nodeid.split("::", 1)[-1]
        for prefix, reason in deviations:
            if test_id.startswith(prefix):
                item.add_marker(pytest.mark.skip(reason=f"known deviation: {reason}"))
