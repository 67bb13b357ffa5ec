"""pytest wiring of the conformance suite: implementation choice, profiles,
row selection, seed slices and shards, the shrink budget, known deviations,
and what each test tried for its report row.

An adapter that cannot be loaded is never a silent pass: see
`pytest_collection_modifyitems`.
"""

import functools
import os

import pytest
from hypothesis import seed as hypothesis_seed
from hypothesis import note, settings
from hypothesis.errors import Unsatisfiable, UnsatisfiedAssumption
from hypothesis.internal.conjecture import engine as _hypothesis_engine

from .adapters import (DEFAULT_IMPL, ENV_VAR, AdapterUnavailable, chosen_impl,
                       describe_load_error, deviation_id, load_adapter, read_deviations)
from . import compilation_cache, quick_compile
from .adapters.support import NOT_APPLICABLE, PASSED_OVER
from .gradients import GradientsUnsupported
from .profiles import PROFILE_ENV, register_profiles
from .rows import Recorded, row_name
from .failures.diagnosis import reported_replay
from .failures.divergence import plain
from .tools.shards import parse_shard, shard_units, slice_seed

register_profiles()

# The shrink budget. Hypothesis stops shrinking a failure after
# `engine.MAX_SHRINKING_SECONDS` (300 s by default; documented as
# monkeypatchable in hypothesis/internal/conjecture/engine.py). It is the one
# private Hypothesis hook this suite uses: we set it per session, so that a
# row an implementation fails costs at most about this much shrinking. If a
# Hypothesis upgrade renames it, importing this conftest fails loudly here
# instead of silently shrinking for five minutes per row again.
_SHRINK_HOOK = "MAX_SHRINKING_SECONDS"
if not hasattr(_hypothesis_engine, _SHRINK_HOOK):
    raise ImportError(
        f"hypothesis {getattr(_hypothesis_engine, '__name__', '')}: no {_SHRINK_HOOK}; the "
        "conformance suite's shrink budget (spec_tests/conftest.py) needs updating for this "
        "Hypothesis version")
# How Hypothesis says it stopped at that budget (its statistics' "stopped because").
_CUT_SHORT = getattr(getattr(_hypothesis_engine, "ExitReason", None),
                     "very_slow_shrinking", None)
SHRINK_SECONDS = {"ci": 20.0, "thorough": 120.0}
SHRINK_ENV = "SNNAX_REF_SHRINK_SECONDS"

_ADAPTER = pytest.StashKey[tuple]()
_RECORDED = pytest.StashKey[dict]()


# -- seed slices and shards ------------------------------------------------------
#
# A *unit* of work is a (row, slice) pair (spec_tests/tools/shards.py). Slice
# s >= 1 runs each Hypothesis test of the row with `hypothesis.seed(
# slice_seed(row, s))` (which overrides `derandomize` and turns the example
# database off), so it draws other networks, the same ones on every machine.
# Tests without `@given` (the pinned gradient tests) run the same in every slice.
# The rows are in report order (the order of their first test among the
# collected, `--rows`-selected tests). One pytest session runs one slice
# (`--seed-slice S`): it keeps the tests of the rows whose unit (row, S) is in
# the shard. `snnax-ref conform --seeds M --shard K/N` runs the sessions for
# S = 0 .. M-1 one after another.


def pytest_addoption(parser):
    group = parser.getgroup("snnax conformance")
    group.addoption("--impl", default=None,
                    help=f"adapter under test as module:attr (env {ENV_VAR}; "
                         f"default {DEFAULT_IMPL})")
    group.addoption("--profile", default=None, choices=["ci", "thorough"],
                    help=f"Hypothesis profile (env {PROFILE_ENV}; default ci)")
    group.addoption("--rows", action="append", default=None, metavar="ROW",
                    help="run only this report row (repeatable; e.g. --rows LIF "
                         "--rows 'gradient: jvp'); other tests are deselected")
    group.addoption("--shrink-seconds", type=float, default=None, metavar="S",
                    help=f"stop shrinking a failure after S seconds (env {SHRINK_ENV}; "
                         f"default per profile: {SHRINK_SECONDS})")
    group.addoption("--seeds", type=int, default=1, metavar="M",
                    help="seed slices per row (default 1); with --shard, the units are "
                         "(row, slice) pairs")
    group.addoption("--seed-slice", type=int, default=0, metavar="S",
                    help="run slice S (0 .. M-1): 0 is the profile's seeding, S >= 1 a "
                         "seed derived from (row, S), i.e. other networks (default 0)")
    group.addoption("--shard", default="1/1", metavar="K/N",
                    help="run only the units numbered K-1 modulo N (default 1/1)")


def _impl(config):
    return chosen_impl(config.getoption("--impl"))


def pytest_configure(config):
    compilation_cache.enable()
    quick_compile.enable()
    profile = config.getoption("--profile") or os.environ.get(PROFILE_ENV) or "ci"
    settings.load_profile(profile)
    config.snnax_profile = profile
    seconds = config.getoption("--shrink-seconds")
    if seconds is None and os.environ.get(SHRINK_ENV):
        seconds = float(os.environ[SHRINK_ENV])
    if seconds is None:
        seconds = SHRINK_SECONDS[profile]
    if seconds <= 0:
        raise pytest.UsageError(f"--shrink-seconds must be positive, not {seconds}")
    config.snnax_shrink_seconds = seconds
    try:
        config.snnax_shard = parse_shard(config.getoption("--shard"))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    config.snnax_seeds = config.getoption("--seeds")
    config.snnax_seed_slice = config.getoption("--seed-slice")
    if config.snnax_seeds < 1:
        raise pytest.UsageError(f"--seeds must be at least 1, not {config.snnax_seeds}")
    if not 0 <= config.snnax_seed_slice < config.snnax_seeds:
        raise pytest.UsageError(f"--seed-slice must be in 0 .. {config.snnax_seeds - 1} "
                                f"(--seeds {config.snnax_seeds}), not {config.snnax_seed_slice}")
    config.snnax_previous_shrink_seconds = getattr(_hypothesis_engine, _SHRINK_HOOK)
    setattr(_hypothesis_engine, _SHRINK_HOOK, seconds)


def pytest_unconfigure(config):
    previous = getattr(config, "snnax_previous_shrink_seconds", None)
    if previous is not None:
        setattr(_hypothesis_engine, _SHRINK_HOOK, previous)


def pytest_report_header(config):
    k, n = config.snnax_shard
    return [f"snnax conformance: impl = {_impl(config)}, "
            f"hypothesis profile = {config.snnax_profile}, "
            f"shrink budget = {config.snnax_shrink_seconds:g} s per row, "
            f"seed slice {config.snnax_seed_slice} of {config.snnax_seeds}, shard {k}/{n}"]


def _load(config):
    """`(adapter, None)` or `(None, error)`, once per session. `snnax-ref
    conform` loads the adapter before pytest starts and hands it over through
    a plugin attribute `snnax_preloaded_adapter = (impl, adapter)`."""
    if _ADAPTER not in config.stash:
        impl = _impl(config)
        for plugin in config.pluginmanager.get_plugins():
            preloaded = getattr(plugin, "snnax_preloaded_adapter", None)
            if isinstance(preloaded, tuple) and preloaded[0] == impl:
                config.stash[_ADAPTER] = (preloaded[1], None)
                break
        else:
            try:
                config.stash[_ADAPTER] = (load_adapter(impl), None)
            except Exception as error:  # noqa: BLE001 - reported, see below
                config.stash[_ADAPTER] = (None, error)
    return config.stash[_ADAPTER]


class _SkipWhenUnavailable:
    """The adapter, as the tests see it: a call that raises AdapterUnavailable
    (an implementation imported lazily, and absent) skips the test with its
    reason instead of failing it (and shrinking it)."""

    def __init__(self, adapter):
        object.__setattr__(self, "_adapter", adapter)

    def __getattr__(self, name):
        value = getattr(self._adapter, name)
        if not callable(value) or isinstance(value, type):
            return value

        def call(*args, **kwargs):
            try:
                return value(*args, **kwargs)
            except AdapterUnavailable as reason:
                pytest.skip(f"adapter unavailable: {reason}")
        return call

    def __setattr__(self, name, value):
        setattr(self._adapter, name, value)

    def __repr__(self):
        return repr(self._adapter)


@pytest.fixture(scope="session")
def adapter(request):
    loaded, error = _load(request.config)
    if error is not None:  # only reached if collection did not mark the test
        pytest.fail(describe_load_error(_impl(request.config), error), pytrace=False)
    return _SkipWhenUnavailable(loaded)


class AdapterLoadFailure(pytest.Item):
    """Stands for the adapter that could not be loaded: it fails with the
    import error (exception type and message; an AdapterUnavailable's reason)."""

    def __init__(self, *, error_text, **kwargs):
        super().__init__(**kwargs)
        self.error_text = error_text

    def runtest(self):
        raise AdapterLoadError(self.error_text)

    def repr_failure(self, excinfo, style=None):
        return self.error_text

    def reportinfo(self):
        return self.path, None, self.name


class AdapterLoadError(Exception):
    pass


def pytest_collection_modifyitems(config, items):
    """Select the `--rows`, then wire the tests that use the adapter.

    If the adapter cannot be loaded (a module that does not exist, an
    `AdapterUnavailable`, any exception from its factory), the run must not
    pass: one extra item, `spec_tests/conftest.py::load-adapter[<impl>]`, is
    put first and fails with the error, and each test that needs the adapter
    is skipped with a pointer to it. So `pytest spec_tests --impl
    nonexistent:thing` reports one failure carrying the import error (exit
    status 1) plus the skips, instead of a green run of skips, while the tests
    that do not need an adapter (the oracle's, the strategies') still run.
    (A session-level error would hide those; an error per test would repeat
    the same traceback dozens of times.)

    Otherwise, skip what the adapter's known-deviations file lists (skips, not
    xfails: shrinking a known failure is slow)."""
    _select_rows(config, items)
    _select_shard(config, items)
    needs_adapter = [item for item in items if "adapter" in getattr(item, "fixturenames", ())]
    if not needs_adapter:
        return
    loaded, error = _load(config)
    if error is not None:
        impl = _impl(config)
        failure = AdapterLoadFailure.from_parent(
            needs_adapter[0].session, name=f"load-adapter[{impl}]", nodeid=f"spec_tests/conftest.py::load-adapter[{impl}]",
            error_text=describe_load_error(impl, error))
        marker = pytest.mark.skip(
            reason=f"adapter {impl} unavailable (see {failure.nodeid}): "
                   f"{type(error).__name__}: {error}")
        for item in needs_adapter:
            item.add_marker(marker)
        items.insert(0, failure)
        return
    deviations = read_deviations(getattr(loaded, "deviations_file", None))
    for item in needs_adapter:
        tid = deviation_id(item.nodeid)
        for prefix, reason in deviations:
            if tid.startswith(prefix):
                item.add_marker(pytest.mark.skip(reason=f"known deviation: {reason}"))
                break


def _select_rows(config, items):
    """`--rows NAME`: keep the tests of those report rows (names as in the
    report, case-insensitive); an unknown name is a usage error."""
    wanted = config.getoption("--rows")
    if not wanted:
        return
    wanted = {name.strip().casefold(): name for name in wanted}
    names = {item.nodeid: row_name(item) for item in items
             if "adapter" in getattr(item, "fixturenames", ())}
    known = sorted(set(names.values()), key=str.casefold)
    unknown = [original for key, original in wanted.items()
               if key not in {n.casefold() for n in known}]
    if unknown:
        raise pytest.UsageError(f"--rows: no row named {', '.join(map(repr, unknown))}; "
                                f"the rows collected are: {', '.join(known)}")
    keep = [item for item in items if names.get(item.nodeid, "").casefold() in wanted]
    dropped = [item for item in items if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep


def _select_shard(config, items):
    """Keep the tests of the rows whose unit (row, --seed-slice) is in
    --shard; record the row order and the units on `config.snnax_units`."""
    rows = {item.nodeid: row_name(item) for item in items}
    row_order = list(dict.fromkeys(rows.values()))
    seeds, slice_, shard = config.snnax_seeds, config.snnax_seed_slice, config.snnax_shard
    mine = shard_units(row_order, seeds, shard)
    config.snnax_units = {"row_order": row_order, "seeds": seeds, "shard": shard,
                          "slice": slice_, "mine": mine}
    if shard == (1, 1):
        return
    keep_rows = {row for row, s in mine if s == slice_}
    keep = [item for item in items if rows[item.nodeid] in keep_rows]
    dropped = [item for item in items if rows[item.nodeid] not in keep_rows]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Run the test; a property the adapter lacks what it needs for
    (`GradientsUnsupported`) skips it. A Hypothesis test also counts its
    examples (`_counted`) and, in seed slice S >= 1, runs with the seed of
    (its row, S), through the public `hypothesis.seed` applied to the
    `@given` wrapper (`item.obj`); afterwards the wrapper's inner test, seed
    and settings are put back: a parametrised test's function is shared by
    its rows, and `conform` runs several sessions in one process. Restoring
    the seed reads and writes the two attributes `hypothesis.seed` sets
    (`_hypothesis_internal_use_seed`, `_hypothesis_internal_use_settings`);
    they are Hypothesis internals, like the shrink budget's hook above.
    (The inner test, `item.obj.hypothesis.inner_test`, is Hypothesis' public
    hook for wrapping what runs each example.)"""
    function = getattr(item, "obj", None)
    given = getattr(function, "hypothesis", None)
    if not hasattr(given, "inner_test"):
        try:
            return (yield)
        except GradientsUnsupported as reason:
            pytest.skip(f"{NOT_APPLICABLE}: {reason}")
    slice_ = getattr(item.config, "snnax_seed_slice", 0)
    inner = given.inner_test
    saved = (getattr(function, "_hypothesis_internal_use_seed", None),
             getattr(function, "_hypothesis_internal_use_settings", None))
    item.stash[_RECORDED] = {Recorded.TRIED: 0, Recorded.FAILED: 0}
    given.inner_test = _counted(inner, item.stash[_RECORDED], _impl(item.config))
    if slice_:
        hypothesis_seed(slice_seed(row_name(item), slice_))(function)
    try:
        return (yield)
    except Unsatisfiable:
        # Every run drawn was one the adapter declares it cannot build.
        passed_over = PASSED_OVER.get(row_name(item))
        why = ", ".join(f"{reason} ({count}x)" for reason, count in passed_over.most_common(3)) \
            if passed_over else "nothing drawn"
        pytest.skip(f"{NOT_APPLICABLE}: no network this row draws is one the adapter supports "
                    f"(passed over: {why})")
    finally:
        given.inner_test = inner
        if slice_:
            function._hypothesis_internal_use_seed = saved[0]
            function._hypothesis_internal_use_settings = saved[1]


def _counted(inner, recorded: dict, impl: str):
    """`inner`, counting into `recorded` each example it runs and each that
    fails; for a failure of a row's check (an error carrying `row_example`,
    `rows.Row.run_check`), also its message, divergence and replay script,
    which Hypothesis notes on the example it reports."""
    @functools.wraps(inner)          # Hypothesis reports the failing example by its name
    def counted(*args, **kwargs):
        try:
            result = inner(*args, **kwargs)
        except GradientsUnsupported as reason:
            pytest.skip(f"{NOT_APPLICABLE}: {reason}")
        except UnsatisfiedAssumption:
            raise
        except Exception as error:
            recorded[Recorded.TRIED] += 1
            recorded[Recorded.FAILED] += 1
            if hasattr(error, "row_example"):
                row, example = error.row_example
                recorded[Recorded.MESSAGE] = f"{type(error).__name__}: {error}"
                recorded[Recorded.DIVERGENCE] = plain(getattr(error, "divergence", None))
                recorded[Recorded.REPRO] = row.repro(example, impl)
                note(recorded[Recorded.REPRO])
                if reported_replay():
                    recorded.setdefault(Recorded.REPORTED, []).append(
                        {key: recorded[value] for key, value in (
                            ("message", Recorded.MESSAGE), ("repro", Recorded.REPRO),
                            ("divergence", Recorded.DIVERGENCE))})
            raise
        recorded[Recorded.TRIED] += 1
        return result
    return counted


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Put on the call report, as user properties (`rows.Recorded`), what the
    test tried and failed, and whether Hypothesis stopped shrinking its
    failure at the shrink budget (read from the statistics Hypothesis'
    pytest plugin leaves on the item)."""
    report = yield
    if call.when == "call":
        report.user_properties.extend(item.stash.get(_RECORDED, {}).items())
        statistics = getattr(item, "hypothesis_statistics", "") or ""
        if (report.failed and _CUT_SHORT is not None
                and f"Stopped because {_CUT_SHORT.value}" in statistics):
            report.user_properties.append((Recorded.SHRINK_CUT_SHORT, True))
    return report
