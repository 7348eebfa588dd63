"""Clients of the venue: the SDK (`perpsim.clients.client`: Client, AsyncClient; typed errors in
`perpsim.clients.errors`) and the `perpsim` command line (`cli`, `commands`, `calc`)."""
