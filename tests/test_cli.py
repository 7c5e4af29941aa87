from __future__ import annotations

import runpy
import subprocess
import sys

import pytest

from practiceid import __version__
from practiceid.cli import main


def test_demo_registers_users_and_shows_refusals(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "registered 'Jeanne Dupont'" in out
    assert "user.duplicate_email" in out
    assert "user.duplicate_login" in out
    assert out.count("password.rejected") == 3
    assert "email.generic_address" in out
    assert "auth.permission_denied" in out
    assert "Vrai-Cheval-Agrafe-42" not in out.split("Logging in")[1]


def test_version_flag(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert __version__ in capsys.readouterr().out


def test_module_entry_point_requires_a_command():
    result = subprocess.run(
        [sys.executable, "-m", "practiceid"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "demo" in result.stderr


def test_running_the_package_as_a_module_calls_main(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["practiceid", "--version"])
    with pytest.raises(SystemExit) as raised:
        runpy.run_module("practiceid", run_name="__main__")
    assert raised.value.code == 0
    assert __version__ in capsys.readouterr().out
