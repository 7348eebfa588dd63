"""The reference order-book workload: build the stream once (perpsim.sim.book_stream), cache it,
load it.

The cache holds `book_stream-n<N>-s<SEED>.npz` (the columns) and a `.json` beside it (the
generator's totals: trades, volume, resting orders, ...), written atomically.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

COLUMNS = ("op", "side", "price", "qty", "order_id")
DEFAULT_N, DEFAULT_SEED = 1_000_000, 42
#: Totals of the default stream; an engine that differs does not match price-time correctly.
EXPECTED_DEFAULT = {"trades": 338_243, "volume": 8_639_212, "resting_orders": 56_729}


class WorkloadError(RuntimeError):
    """The stream cannot be built or read."""


def cache_dir() -> Path:
    """$PERPSIM_CACHE, else $XDG_CACHE_HOME/perpsim, else ~/.cache/perpsim."""
    if "PERPSIM_CACHE" in os.environ:
        return Path(os.environ["PERPSIM_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "perpsim"


def write(path: Path, n: int, seed: int) -> dict:
    """Generate the stream into `path` (.npz) and its totals beside it (.json); the totals."""
    from perpsim.sim import book_stream

    if n < 1:
        raise WorkloadError(f"a stream needs at least one operation, got n={n}")
    cols, totals = book_stream.generate(n, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + f".partial-{os.getpid()}.npz")
    np.savez(tmp, **cols)  # type: ignore[arg-type]  # numpy's stub lets **kwds fill allow_pickle
    tmp_json = tmp.with_suffix(".json")
    tmp_json.write_text(json.dumps(totals, indent=1))
    tmp_json.replace(path.with_suffix(".json"))
    tmp.replace(path)
    return totals


def stream_path(n: int = DEFAULT_N, seed: int = DEFAULT_SEED) -> Path:
    """Path of the cached stream (n operations, seed), generating it first if missing."""
    out = cache_dir() / f"book_stream-n{n}-s{seed}.npz"
    if not out.is_file() or not out.with_suffix(".json").is_file():
        print(f"generating the reference stream ({n:,} operations, seed {seed}) into {out}", file=sys.stderr)
        try:
            write(out, n, seed)
        except OSError as e:
            raise WorkloadError(f"cannot write the stream into {out.parent}: {e.strerror} (set PERPSIM_CACHE)") from e
    return out


def load(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """The stream's int64 columns and the generator's totals (from the .json beside it)."""
    path = Path(path)
    try:
        with np.load(path) as data:
            cols = {k: np.ascontiguousarray(data[k], dtype=np.int64) for k in COLUMNS}
    except (OSError, KeyError, ValueError) as e:
        raise WorkloadError(f"{path} is not a book stream (.npz with {', '.join(COLUMNS)}): {e}") from e
    totals_file = path.with_suffix(".json")
    totals = json.loads(totals_file.read_text()) if totals_file.is_file() else {}
    return cols, totals
