"""The venue: the service around the deterministic core (see DESIGN.md, "Layers and data flow").

gRPC servicers (thin adapters), auth, validation -> commands, ONE sequencer queue feeding
`Exchange.apply`, streams, metrics, sandbox controls — and the durability layer the sequencer
writes through (DESIGN.md, "The core is a deterministic state machine"):

* `perpsim.venue.sequencer` — the one writer: commands in arrival order, applied, journaled and
  acknowledged after one fsync per batch;
* `perpsim.venue.services`  — one module per gRPC service (thin servicers) and the server
  hosting them (`services.registry`);
* `perpsim.venue.codec`    — an exact, deterministic binary codec for the engine's commands,
  with a fixed table of type tags so that old journals stay readable;
* `perpsim.venue.journal`  — segment files of length-prefixed, CRC-checked, sequence-numbered
  records, appended with group commit (many records per fsync), checked on open: a torn tail is
  truncated, corruption anywhere else refuses to open (`journal_open`); their bytes:
  `journal_format`; the segment files and the zeros written ahead: `journal_segments`;
* `perpsim.venue.snapshot` — atomic, checksummed snapshots of an `Exchange`, the last N kept;
* `perpsim.venue.recovery` — latest snapshot + the journal tail -> the exchange as it was;
* `perpsim.venue.snapshot_follower` — the process that writes the snapshots: it follows the
  journal with its own copy of the state (`follower_checkpoint`, `follower_link`, `journal_tail`).

Nothing in engine/ or risk/ imports from here: data flows one way.
"""

import os

# Without the snapshot follower, snapshots are written by a forked child (perpsim.venue.checkpoint),
# which never uses gRPC; with gRPC's fork support on, gRPC restarts its threads inside that child,
# where they race the writer.
# gRPC reads this when it is imported, so it is set here, ahead of every venue module.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
