"""The gRPC services: one module per service, each a thin servicer.

Servicers authenticate, validate and convert requests into engine commands, `submit` them to
the sequencer (venue.sequencer) and build responses from the events and the read API. What
they share (the Venue, the `rpc` wrapper, rejections) is in `common`; the server that hosts
them all is built in `registry`.
"""
