"""The machine's matmul rate: the products the workloads' floors are made of.

``(B*T x n) @ (n x n)`` with B*T = 16 * 500, the forward product of workload
(a) (``workloads.linear_lif_floor``), timed with ``jnp.dot`` in float32.
``track_gflops`` puts the rate on the dashboard so that a change of machine
or of XLA shows up as such and not as a change of snnax_ref.
"""

from . import common


def _product(n):
    from . import workloads

    (shape,) = workloads.linear_lif_floor(n)["gemms_forward"]
    return shape


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
        self.dot = common.gemm_runner([_product(n)])
        self.dot()

    def time_gemm(self, device, n):
        self.dot()

    def track_gflops(self, device, n):
        seconds = common.gemm_seconds(_product(n))
        return common.gemm_flops([_product(n)]) / seconds / 1e9
    track_gflops.unit = "GFLOP/s"
