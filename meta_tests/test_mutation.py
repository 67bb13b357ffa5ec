"""The mutation machinery: mutants apply to today's reference, plant and
restore exactly; and the suite's power, measured: every planted bug must be
caught by the ci profile."""

import jax.numpy as jnp
import pytest

from spec_tests.tools.mutants import (MUTANTS, Mutant, StaleMutant, Substitution, mutated_code,
                                      planted)
from spec_tests.tools.mutation import run_mutation_check
from spec_tests.rows import ALL_ROWS


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_every_mutant_substitution_applies(mutant):
    """Each substitution's old text occurs exactly once in today's source of
    its module, and the substitutions change the code of some function; the
    mutant names rows that exist."""
    assert mutated_code(mutant)
    assert mutant.rows and all(row in ALL_ROWS for row in mutant.rows), mutant.rows


def test_mutant_names_are_unique():
    names = [m.name for m in MUTANTS]
    assert len(names) == len(set(names))


def test_a_stale_substitution_fails_naming_the_mutant_and_its_text():
    """An old text that no longer occurs (or occurs twice) is an error naming
    the mutant, the module and the text, never a silently absent bug."""
    missing = Mutant("gone", "a text that moved", ["LIF"],
                     (Substitution("snnax_ref.snn.layers.lif", "membrane = banana", "x"),))
    with pytest.raises(StaleMutant, match=r"'gone'.*snnax_ref\.snn\.layers\.lif.*0 times"
                                          r"(.|\n)*membrane = banana"):
        with planted(missing):
            pass
    twice = Mutant("twice", "an ambiguous text", ["LIF"],
                   (Substitution("snnax_ref.snn.layers.lif", "membrane", "x"),))
    with pytest.raises(StaleMutant, match="'twice'.*expected exactly once"):
        mutated_code(twice)
    nothing = Mutant("comment", "changes no code", ["LIF"],
                     (Substitution("snnax_ref.snn.layers.lif",
                                   '"""Leaky integrate-and-fire neurons."""', '"""Changed."""'),))
    with pytest.raises(StaleMutant, match="'comment'.*change no function"):
        mutated_code(nothing)


def test_planting_changes_the_reference_and_restores_it():
    """Inside `planted`, the reference computes the bug (H(0) = 0, through the
    same function object every layer calls); afterwards exactly the original."""
    from snnax_ref.functional import surrogate
    function = surrogate.heaviside
    mutant = next(m for m in MUTANTS if m.name == "heaviside-zero-is-zero")
    assert float(surrogate.heaviside(jnp.asarray(0.0))) == 1.0
    with planted(mutant):
        assert surrogate.heaviside is function
        assert float(surrogate.heaviside(jnp.asarray(0.0))) == 0.0
    assert float(surrogate.heaviside(jnp.asarray(0.0))) == 1.0


def test_every_planted_mutant_is_killed(capsys):
    """Each mutant of `mutants.MUTANTS` makes one of its conformance rows fail."""
    lines = []
    killed, total = run_mutation_check("ci", echo=lambda *a, **k: lines.append(" ".join(a)))
    report = "\n".join(lines)
    assert total >= 12, report
    assert killed == total, report
