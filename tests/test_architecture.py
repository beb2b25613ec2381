"""The package layers of DESIGN.md hold: import-linter's contracts in pyproject.toml are kept.

(layers from cli down to runtime, no import cycles between the modules of a package, and
mlflow imported by tracking/ only.)
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken." in proc.stdout


def test_no_module_outside_tracking_imports_mlflow_lazily():
    # import-linter sees imports inside functions too; this guards the contract's own list:
    # every top-level package except tracking is a source of the "only tracking" contract.
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    forbidden = next(c for c in config["contracts"] if c["type"] == "forbidden")
    packages = {
        p.stem if p.is_file() else p.name
        for p in (ROOT / "platform" / "augplat").iterdir()
        if (p.suffix == ".py" and p.stem not in {"__init__", "__main__"})
        or (p.is_dir() and (p / "__init__.py").exists())
    }
    listed = {m.removeprefix("augplat.") for m in forbidden["source_modules"]}
    assert packages - {"tracking"} == listed
