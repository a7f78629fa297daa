"""The console scripts (edge-run, edge-eval, edge-report, edge-models, edge-bench): each parses its flags,
calls the library and prints. Nothing imports these modules; what they share lives in ``edge.console``."""
