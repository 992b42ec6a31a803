"""Host side of the alert button: the `alertbutton` command, the simulator, benchmarks, checks and evaluations."""
