"""What a failed check says, beside the mismatch itself: where the run first
left the oracle's (`divergence`), which catalogued alternative semantics the
implementation computes instead (`diagnosis`), and a script that replays the
minimal failing run (`repro`). The suite builds these when a check fails; the
tools' reports only lay them out."""
