"""The machine's matmul rate: the products the workloads' floors are made of.

``(B*T x n) @ (n x n)`` with B*T = 16 * 500, the forward product of workload
(a), timed with ``jnp.dot`` in float32. ``track_gflops`` puts the rate on the
dashboard so that a change of machine or of XLA shows up as such and not as a
change of snnax_ref.
"""

import jax
import jax.numpy as jnp

from . import common, workloads

_ROWS = workloads.BATCH * workloads.STEPS


class GemmFloor:
    params = [[common.DEVICE], common.sizes()["floor_n"]]
    param_names = ["device", "n"]
    number = 1
    repeat = (1, 10, 10.0)
    rounds = 1
    warmup_time = 0.0
    timeout = 600.0
    version = "1"

    def setup(self, device, n):
        ka, kb = jax.random.split(jax.random.PRNGKey(0))
        self.a = jax.random.normal(ka, (_ROWS, n), jnp.float32)
        self.b = jax.random.normal(kb, (n, n), jnp.float32)
        self.dot = jax.jit(jnp.dot).lower(self.a, self.b).compile()
        jax.block_until_ready(self.dot(self.a, self.b))

    def time_gemm(self, device, n):
        jax.block_until_ready(self.dot(self.a, self.b))

    def track_gflops(self, device, n):
        seconds = common.gemm_seconds((_ROWS, n, n))
        return common.gemm_flops([(_ROWS, n, n)]) / seconds / 1e9
    track_gflops.unit = "GFLOP/s"
