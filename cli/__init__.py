"""The `perpsim` command line: the composition root that runs the venue (`serve`), the benchmarks,
the calculator, the scenarios, and the client commands over the SDK (perpsim.clients)."""
