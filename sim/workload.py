"""The reference order-book workload: find its generator, build the stream once, cache it.

The stream itself is defined by shared/workloads/book_stream.py (kept beside the repository, so
that every engine is measured on the same operations); this module only locates that script,
runs it into a cache folder and loads the result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

COLUMNS = ("op", "side", "price", "qty", "order_id")
DEFAULT_N, DEFAULT_SEED = 1_000_000, 42
#: Totals the issue states for the default stream; an engine that differs does not match correctly.
EXPECTED_DEFAULT = {"trades": 338_243, "volume": 8_639_212, "resting_orders": 56_729}
_GENERATOR = Path("shared", "workloads", "book_stream.py")


class WorkloadError(RuntimeError):
    """The stream cannot be found or built."""


def cache_dir() -> Path:
    """$PERPSIM_CACHE, else $XDG_CACHE_HOME/perpsim, else ~/.cache/perpsim."""
    if "PERPSIM_CACHE" in os.environ:
        return Path(os.environ["PERPSIM_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "perpsim"


def find_generator(explicit: str | None = None) -> Path:
    """The workload generator: `explicit`, $PERPSIM_WORKLOAD, or shared/workloads/book_stream.py
    in the current folder, the source checkout, or any folder above them."""
    if explicit or os.environ.get("PERPSIM_WORKLOAD"):
        path = Path(explicit or os.environ["PERPSIM_WORKLOAD"])
        if not path.is_file():
            raise WorkloadError(f"workload generator {path} does not exist")
        return path
    starts = [Path.cwd().resolve(), Path(__file__).resolve().parent]
    for start in starts:
        for folder in (start, *start.parents):
            if (folder / _GENERATOR).is_file():
                return folder / _GENERATOR
    raise WorkloadError(
        f"cannot find {_GENERATOR} above {Path.cwd()}; run from the repository checkout that has "
        "../shared beside it, or pass --workload PATH / set PERPSIM_WORKLOAD"
    )


def stream_path(n: int = DEFAULT_N, seed: int = DEFAULT_SEED, generator: str | None = None) -> Path:
    """Path of the cached stream (n operations, seed), generating it first if missing."""
    out = cache_dir() / f"book_stream-n{n}-s{seed}.npz"
    if not out.is_file() or not out.with_suffix(".json").is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        script = find_generator(generator)
        print(f"generating the reference stream ({n:,} operations, seed {seed}) into {out}", file=sys.stderr)
        tmp = out.with_name(out.stem + ".partial.npz")
        subprocess.run([sys.executable, str(script), str(tmp), "--n", str(n), "--seed", str(seed)],
                       check=True, stdout=subprocess.DEVNULL)
        tmp.with_suffix(".json").replace(out.with_suffix(".json"))
        tmp.replace(out)
    return out


def load(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """The stream's int64 columns and the generator's totals (from the .json beside it)."""
    path = Path(path)
    with np.load(path) as data:
        cols = {k: np.ascontiguousarray(data[k], dtype=np.int64) for k in COLUMNS}
    totals_file = path.with_suffix(".json")
    totals = json.loads(totals_file.read_text()) if totals_file.is_file() else {}
    return cols, totals
