"""Simulation layer: workloads, benchmarks and (later) feeds, agents, scenarios and sweeps."""
