"""Settings every test process needs before anything imports gRPC."""

import os

# the venue's checkpoints fork (perpsim.venue.checkpoint): gRPC must not restart its threads in
# the child; the test modules import grpc before perpsim.venue can set this itself
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
