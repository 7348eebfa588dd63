"""Build script: maps the top-level folders onto `perpsim.*` and lists the Cython extensions.

Metadata lives in pyproject.toml. Environment switches:
  PERPSIM_DEBUG=1     bounds checks, line tracing and annotated HTML for the kernels
"""

import hashlib
import json
import os
import shutil
from pathlib import Path

import Cython
from Cython.Build import cythonize
from setuptools import Extension, setup

# Import name -> source folder (see DESIGN.md "Layout"). `perpsim` itself is a namespace.
PACKAGES = {
    "perpsim.model": "model",
    "perpsim.engine": "engine",
    "perpsim.risk": "risk",
    "perpsim.clients": "clients",
    "perpsim.cli": "cli",
    "perpsim.sim": "sim",
    "perpsim.venue": "venue",
}

# Generated protobuf/gRPC code: built from proto/ into this folder, imported as perpsim.v1.
PROTO_OUT = Path("build", "proto-gen")
PACKAGES["perpsim.v1"] = str(PROTO_OUT / "perpsim" / "v1")

# Every compiled kernel, listed explicitly: import name -> sources.
EXTENSIONS = [
    Extension("perpsim.engine.records", ["engine/records.pyx"]),
    Extension("perpsim.engine.book", ["engine/book.pyx"]),
    Extension("perpsim.risk.liqindex", ["risk/liqindex.pyx"], language="c++"),
    Extension("perpsim.risk.margin_kernel", ["risk/margin_kernel.pyx"]),
]

# Plain Python modules compiled as they are, beside a .pxd that fixes their classes' attribute
# slots and the signatures their hot methods call each other by: the .py stays the source and,
# imported as plain Python, the reference twin. Python semantics throughout (negative indexes,
# floor division), annotations not read as C types, and None checked before attribute access.
COMPILED_PY = [
    # brackets and margin formulas (risk/margin.pxd: only the per-order formulas the exchange
    # calls in C), shared by both builds of the exchange: their classes (Brackets, CostModel)
    # are compared by identity across modules
    Extension("perpsim.risk.brackets", ["risk/brackets.py"]),
    Extension("perpsim.risk.margin", ["risk/margin.py"]),
    Extension("perpsim.risk.units", ["risk/units.py"]),
    Extension("perpsim.risk.positions", ["risk/positions.py"]),
    Extension("perpsim.risk.ledger", ["risk/ledger.py"]),
    # the liquidation decisions the engine asks per liquidated position (shared by both builds)
    Extension("perpsim.risk.liquidation_plan", ["risk/liquidation_plan.py"]),
    # the exchange's market records, shared state and stages, each beside its .pxd (engine/exchange.py)
    Extension("perpsim.engine.contracts", ["engine/contracts.py"]),
    Extension("perpsim.engine.market", ["engine/market.py"]),
    Extension("perpsim.engine.state", ["engine/state.py"]),
    Extension("perpsim.engine.accounts", ["engine/accounts.py"]),
    Extension("perpsim.engine.settlement", ["engine/settlement.py"]),
    Extension("perpsim.engine.standing", ["engine/standing.py"]),
    Extension("perpsim.engine.forced_orders", ["engine/forced_orders.py"]),
    Extension("perpsim.engine.position_risk", ["engine/position_risk.py"]),
    Extension("perpsim.engine.liquidation_index", ["engine/liquidation_index.py"]),
    Extension("perpsim.engine.deleveraging", ["engine/deleveraging.py"]),
    Extension("perpsim.engine.liquidation", ["engine/liquidation.py"]),
    Extension("perpsim.engine.marking", ["engine/marking.py"]),
    Extension("perpsim.engine.loss_limits", ["engine/loss_limits.py"]),
    Extension("perpsim.engine.entry", ["engine/entry.py"]),
    Extension("perpsim.engine.order_lists", ["engine/order_lists.py"]),
    Extension("perpsim.engine.market_commands", ["engine/market_commands.py"]),
    Extension("perpsim.engine.conditionals", ["engine/conditionals.py"]),
    Extension("perpsim.engine.loss_limit_hits", ["engine/loss_limit_hits.py"]),
    Extension("perpsim.engine.exchange", ["engine/exchange.py"]),
    # the venue's order registry and history read model, run on the sequencer for every command
    Extension("perpsim.venue.state", ["venue/state.py"]),
    Extension("perpsim.venue.history_handoff", ["venue/history_handoff.py"]),
    Extension("perpsim.venue.history_orders", ["venue/history_orders.py"]),
    Extension("perpsim.venue.history_income", ["venue/history_income.py"]),
    Extension("perpsim.venue.history_open_interest", ["venue/history_open_interest.py"]),
    Extension("perpsim.venue.history", ["venue/history.py"]),
    Extension("perpsim.venue.klines", ["venue/klines.py"]),
]



def subpackages(packages: dict[str, str]) -> list[str]:
    """Every folder with an __init__.py below a mapped folder, as an import name (perpsim.venue.gateway)."""
    found = []
    for name, folder in packages.items():
        for init in sorted(Path(folder).rglob("__init__.py")):
            rel = init.parent.relative_to(folder)
            if rel.parts and "__pycache__" not in rel.parts:
                found.append(".".join((name, *rel.parts)))
    return found


DEBUG = os.environ.get("PERPSIM_DEBUG") == "1"


def generate_protos() -> None:
    """protoc (grpcio-tools) over proto/perpsim/v1/*.proto: messages, stubs and .pyi typing."""
    from grpc_tools import protoc

    protos = sorted(str(p) for p in Path("proto", "perpsim", "v1").glob("*.proto"))
    out = PROTO_OUT / "perpsim" / "v1"
    shutil.rmtree(PROTO_OUT, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "__init__.py").write_text('"""Generated from proto/perpsim/v1 by grpcio-tools at build time."""\n')
    (out / "py.typed").touch()  # the generated .pyi stubs type the messages
    include = str(Path(protoc.__file__).parent / "_proto")
    # google/rpc/status.proto comes with googleapis-common-protos (a build requirement)
    import google.rpc.status_pb2 as status

    googleapis = str(Path(status.__file__).parents[2])
    args = ["protoc", "-Iproto", f"-I{include}", f"-I{googleapis}", f"--python_out={PROTO_OUT}",
            f"--grpc_python_out={PROTO_OUT}", f"--pyi_out={PROTO_OUT}", *protos]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed on " + " ".join(protos))


def cython_include_dir() -> str:
    """Lay the .pxd files out under their import names so `cimport perpsim.engine.book`
    and each kernel's own .pxd resolve although the folders are not named perpsim/…"""
    root = Path("build", "cython-include")
    shutil.rmtree(root, ignore_errors=True)
    for name, folder in PACKAGES.items():
        dest = root.joinpath(*name.split("."))
        dest.mkdir(parents=True)
        for parent in dest.relative_to(root).parents:
            root.joinpath(parent, "__init__.pxd").touch()
        (dest / "__init__.pxd").touch()
        for pxd in Path(folder).glob("*.pxd"):
            shutil.copy2(pxd, dest / pxd.name)  # keep mtimes: unchanged kernels are not recompiled
    return str(root)


FINGERPRINTS = Path("build", "cython-fingerprints.json")


def cythonize_changed(extensions: list, include_dir: str, **options) -> list:
    """cythonize() the extensions whose inputs changed by content, reuse the C of the others.

    Cython decides by mtime, and counts its own Includes (libc/*.pxd) as inputs: an isolated
    build (pip install .) installs Cython afresh, newer than every generated .c, so each
    install regenerated and recompiled every kernel. Here an extension's fingerprint is its
    sources, the project's .pxd files, the Cython version and the options; with the same
    fingerprint as the C file beside it was made from (and that C file unchanged since), the
    C file and its compiled module, older than it, are kept."""
    pxds = sorted(Path(include_dir).rglob("*.pxd"))
    common = hashlib.sha256(repr((Cython.__version__, sorted(options.items(), key=str))).encode())
    for pxd in pxds:
        common.update(pxd.as_posix().encode() + b"\0" + pxd.read_bytes())
    try:
        known = json.loads(FINGERPRINTS.read_text())
    except (OSError, ValueError):
        known = {}
    kept, changed, prints = [], [], {}

    def c_file(ext) -> Path:
        return Path(ext.sources[0]).with_suffix(".cpp" if ext.language == "c++" else ".c")

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""

    for ext in extensions:
        h = common.copy()
        for src in ext.sources:
            h.update(src.encode() + b"\0" + Path(src).read_bytes())
        prints[ext.name] = h.hexdigest()
        c = c_file(ext)
        if known.get(ext.name) == [prints[ext.name], digest(c)] and c.is_file():
            ext.sources = [str(c), *ext.sources[1:]]
            kept.append(ext)
        else:
            changed.append(ext)
    built = cythonize(changed, include_path=[include_dir], **options) if changed else []
    for ext in built:  # the C each was made into (its first source now)
        known[ext.name] = [prints[ext.name], digest(Path(ext.sources[0]))]
    FINGERPRINTS.parent.mkdir(parents=True, exist_ok=True)
    FINGERPRINTS.write_text(json.dumps(known, indent=1, sort_keys=True))
    return kept + built


directives = {
    "language_level": 3,
    "embedsignature": True,
    "boundscheck": DEBUG,
    "wraparound": False,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "linetrace": DEBUG,
}
py_directives = {"language_level": 3, "annotation_typing": False, "nonecheck": True, "binding": True,
                 "embedsignature": True, "linetrace": DEBUG}
for ext in EXTENSIONS + COMPILED_PY:
    ext.extra_compile_args = ["-O2"] + (["-DCYTHON_TRACE=1"] if DEBUG else [])

generate_protos()

setup(
    # setuptools lists no package's subpackages by itself: name them
    packages=[*PACKAGES, *subpackages(PACKAGES)],
    package_dir=PACKAGES,
    package_data={
        "": ["py.typed"],  # PEP 561: type checkers read the installed packages' annotations
        # the .pyx too: snapshot.build_id() digests the source of the state's code
        "perpsim.engine": ["*.pyi", "*.pxd", "*.pyx"],
        "perpsim.model": ["*.toml"],
        "perpsim.v1": ["*.pyi"],
        "perpsim.risk": ["*.pyi", "*.pxd", "*.pyx"],
        "perpsim.sim": ["scenarios/*.toml", "scenarios/*.csv"],
        "perpsim.venue": ["dashboard/static/*.html", "dashboard/static/*.js", "dashboard/static/*.css"],
    },
    ext_modules=cythonize_changed(EXTENSIONS, cython_include_dir(), compiler_directives=directives, annotate=DEBUG)
    + cythonize_changed(COMPILED_PY, cython_include_dir(), compiler_directives=py_directives, annotate=DEBUG),
    zip_safe=False,
)
