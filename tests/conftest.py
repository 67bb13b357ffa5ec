import jax
import pytest

from spec_tests import compilation_cache, quick_compile

jax.config.update("jax_numpy_rank_promotion", "raise")
compilation_cache.enable()
quick_compile.enable()


@pytest.fixture
def key():
    return jax.random.PRNGKey(0)
