"""A worked example of testing another implementation: tiny_snn (a small
plain-JAX spiking library written from SPEC.md) and its adapter. See
README.md beside it."""
