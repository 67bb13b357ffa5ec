"""Tests of the conformance suite itself (not shipped with it): the oracle,
the strategies, the mutation machinery, tolerances, diagnosis, reports,
shards and the command line. The conformance tests (what an implementation
is checked against) are `spec_tests/test_conformance.py`, `test_gradients.py`
and `test_schedules.py`."""
