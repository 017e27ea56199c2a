"""Generates the Python modules and type stubs for the wire contract in `proto/flotilla/v1`.

`python -m tools.protogen` writes them into `services/flotilla/v1/`; `generate(out_dir)` is
what the drift test calls to compare a fresh generation with the committed files.
"""

from __future__ import annotations

import argparse
import importlib.resources
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PROTO_ROOT = REPO_ROOT / "proto"
SERVICES_ROOT = REPO_ROOT / "services"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi")


def proto_files() -> list[Path]:
    """The contract's .proto files, sorted so that generation is deterministic."""
    return sorted((PROTO_ROOT / "flotilla" / "v1").glob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Run protoc over every contract file into `out_dir`; return the files written."""
    from grpc_tools import protoc  # dev dependency: imported only when generating

    out_dir.mkdir(parents=True, exist_ok=True)
    well_known = importlib.resources.files("grpc_tools") / "_proto"
    files = proto_files()
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        *(str(f.relative_to(PROTO_ROOT)) for f in files),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed for {', '.join(f.name for f in files)}")
    return sorted(
        p for p in (out_dir / "flotilla" / "v1").iterdir() if p.name.endswith(GENERATED_SUFFIXES)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    written = generate(SERVICES_ROOT)
    for path in written:
        print(f"generated {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
