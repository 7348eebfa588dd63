"""Clients of the venue: the `perpsim` command line (and, with the venue service, the SDK)."""
