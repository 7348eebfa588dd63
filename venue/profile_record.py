"""The venue profile a data directory was created under (`<data_dir>/profile`).

The journal replays under the rules of the profile it was written with (liquidation model and
trigger, tiers, fees): the first start records the profile, and a later start under another one
is refused naming both, before anything is written, rather than replaying into a different state.
"""

from __future__ import annotations

from pathlib import Path

from perpsim.venue.datadir import DataDirError
from perpsim.venue.errors import cut
from perpsim.venue.files import write_atomic

PROFILE = "profile"


def settle(data_dir: Path, name: str) -> None:
    """Record `name` in a directory that has none; DataDirError if it records another profile."""
    path = data_dir / PROFILE
    try:
        recorded = path.read_text().strip()
    except FileNotFoundError:
        write_atomic(path, name.encode())
        return
    except (OSError, UnicodeDecodeError) as e:
        raise DataDirError(f"{path} cannot be read ({e}): restore it from a backup") from None
    if recorded != name:
        raise DataDirError(f"{data_dir} was created under the venue profile {cut(repr(recorded))}, not {name!r}: "
                           f"its journal replays under that profile's rules; start with --profile {cut(recorded)} "
                           "or use another data directory")
