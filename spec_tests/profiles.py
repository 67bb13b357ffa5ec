"""Hypothesis profiles: `ci` (the default) and `thorough` (10x the examples).

The example counts are per row of the conformance report (one row per
documented class and equinox ingredient, per forward function); the float32
row, which mixes every class, gets twice as many.
"""

EXAMPLES = {"ci": 8, "thorough": 80}
PROFILE_ENV = "SNNAX_REF_PROFILE"


def register_profiles() -> None:
    # Imported here: the command line reads EXAMPLES before pytest starts, and
    # a Hypothesis imported then could not be assertion-rewritten.
    from hypothesis import HealthCheck, settings

    for name, examples in EXAMPLES.items():
        settings.register_profile(
            name,
            max_examples=examples,
            deadline=None,
            derandomize=(name == "ci"),
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                   HealthCheck.filter_too_much],
        )
