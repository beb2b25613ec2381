"""The CLI shell: heavy libraries stay out of start-up, user errors become exit code 2."""

from __future__ import annotations

import subprocess
import sys


def test_help_imports_no_heavy_library():
    code = (
        "import sys; from augplat.cli import app; "
        "heavy = [m for m in ('torch', 'mlflow', 'pandas', 'sklearn', 'matplotlib', 'numpy') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "", f"imported at start-up: {proc.stdout.strip()}"


def test_top_level_help_lists_the_groups(cli):
    proc = cli("--help", check=True)
    for command in ("data", "train", "server", "ui"):
        assert command in proc.stdout


def test_unknown_option_is_a_usage_error(cli):
    proc = cli("train", "--no-such-flag")
    assert proc.returncode == 2
    assert "--no-such-flag" in proc.stderr


def test_ui_serves_the_local_store_on_loopback(tmp_path):
    import os
    import signal

    from tests.conftest import _wait_healthy, free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "augplat", "ui", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode()
    assert f"--host 127.0.0.1 --port {port}" in output
    assert f"sqlite:///{tmp_path / 'mlflow.db'}" in output
