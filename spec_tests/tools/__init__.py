"""The conformance suite's tooling, apart from the suite itself: the
`snnax-ref` command line (`cli`), its reports (`report`, which lays out what
`spec_tests.failures` found, and the seed slices and `shards` of a run), the
jobs of `conform --jobs` (`jobs`), the mutation check (`mutants`,
`mutation`) and the NIR checker (`nir_check`)."""
