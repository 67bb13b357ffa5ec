"""The conformance suite's tooling, apart from the suite itself: the
`snnax-ref` command line (`cli`), its reports (`report`, with the
`divergence` of a failed row and the seed slices and `shards` of a run), the
mutation check (`mutants`, `mutation`), the NIR checker (`nir_check`), the
diagnosis of deviations (`diagnosis`) and replay scripts (`repro`)."""
