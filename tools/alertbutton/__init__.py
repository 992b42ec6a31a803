"""Host side of the alert button: CLI, simulator, benchmarks and evaluation tools."""
