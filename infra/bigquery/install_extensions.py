"""Installs DuckDB's spatial and avro extensions from their PyPI wheels.

bqemulator runs `INSTALL spatial` (required) and `INSTALL avro` at every start;
DuckDB then downloads the extension unless it is already installed in
`$HOME/.duckdb/extensions/<duckdb version>/<platform>/`. Run this once, with the
HOME the emulator will run with, so that it never downloads anything:

    HOME=<emulator home> <venv>/bin/python infra/bigquery/install_extensions.py
"""

import importlib
import sys
from pathlib import Path

import duckdb

EXTENSIONS = ("spatial", "avro")


def extension_file(name: str) -> Path:
    """The extension file shipped by the `duckdb-extension-<name>` wheel."""
    package = importlib.import_module(f"duckdb_extension_{name}")
    root = Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    path = root / f"{name}.duckdb_extension"
    if not path.is_file():
        sys.exit(
            f"Cannot install the DuckDB {name} extension: expected {path} "
            f"(duckdb {duckdb.__version__} and duckdb-extension-{name} must have one version)"
        )
    return path


def main() -> None:
    connection = duckdb.connect()
    for name in EXTENSIONS:
        # A path, not a name: DuckDB copies the file and never goes online.
        path = str(extension_file(name)).replace("'", "''")
        connection.execute(f"FORCE INSTALL '{path}'")
        connection.execute(f"LOAD {name}")
    installed = connection.execute(
        "SELECT extension_name, install_path FROM duckdb_extensions() "
        "WHERE installed AND extension_name IN ('spatial', 'avro') ORDER BY 1"
    ).fetchall()
    for name, path in installed:
        print(f"duckdb {duckdb.__version__}: {name} installed at {path}")
    if len(installed) != len(EXTENSIONS):
        sys.exit(f"Cannot install the DuckDB extensions: only {installed} are installed")


if __name__ == "__main__":
    main()
