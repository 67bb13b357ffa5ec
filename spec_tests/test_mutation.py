"""The suite's power, measured: every planted bug must be caught by the ci profile."""

from .mutation import run_mutation_check


def test_every_planted_mutant_is_killed(capsys):
    """Each mutant of `mutants.MUTANTS` makes one of its conformance rows fail."""
    lines = []
    killed, total = run_mutation_check("ci", echo=lambda *a, **k: lines.append(" ".join(a)))
    report = "\n".join(lines)
    assert total >= 12, report
    assert killed == total, report
