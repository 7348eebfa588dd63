"""The client of the venue: the SDK (`perpsim.clients.client`: Client, AsyncClient), its models
(`perpsim.clients.models` and the `*_models` beside it) and typed errors
(`perpsim.clients.errors`). It imports nothing from the venue or the simulator; the `perpsim`
command line is perpsim.cli."""
