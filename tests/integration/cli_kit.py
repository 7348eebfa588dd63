"""What the `perpsim` CLI tests share: a clean environment (no address or keys from the shell, no
./perpsim-data) and a runner that calls `perpsim.cli.main.main` against a test venue."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from perpsim.cli import main as cli

Run = Callable[..., tuple[int, str, str]]


def clean_cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Drops PERPSIM_ADDRESS and the keys from the environment and runs in tmp_path, so no
    ./perpsim-data/admin.key is found unless a test puts one there."""
    for name in ("PERPSIM_ADDRESS", "PERPSIM_API_KEY", "PERPSIM_ADMIN_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def cli_runner(capsys: pytest.CaptureFixture[str], address: str) -> Run:
    """run(*args, key=None, admin=None) -> (exit code, stdout, stderr) of `perpsim *args --address address`."""

    def go(*args: str, key: str | None = None, admin: str | None = None) -> tuple[int, str, str]:
        argv = [*args, "--address", address]
        if key:  # keys are url-safe base64 and may start with "-": always the --key=VALUE form
            argv.append(f"--key={key}")
        if admin:
            argv.append(f"--admin-key={admin}")
        code = cli.main(argv)
        out, err = capsys.readouterr()
        return code, out, err

    return go


def run_json(run: Run, *args: str, **keys: str):
    """The parsed --json output of a command that must succeed with nothing on stderr."""
    code, out, err = run(*args, "--json", **keys)
    assert (code, err) == (0, ""), err
    return json.loads(out)
