"""Fetch the pinned front-end packages (`vendor.json`) with `npm pack`, or check the copies.

`python -m gateway.console.vendor` downloads each pinned tarball through npm, refuses one whose
integrity differs from the pin, copies the listed files and records their sha256;
`--check` verifies the committed files against those hashes (no network).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

MANIFEST = Path(__file__).with_name("vendor.json")
ROOT = Path(__file__).resolve().parents[5]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _integrity(tarball: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()


def fetch(manifest: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for pkg in manifest["packages"]:
            spec = f"{pkg['name']}@{pkg['version']}"
            out = subprocess.run(
                ["npm", "pack", spec, "--json", "--pack-destination", tmp],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            tarball = Path(tmp) / json.loads(out.stdout)[0]["filename"]
            if _integrity(tarball) != pkg["integrity"]:
                sys.exit(f"{spec}: the tarball's integrity differs from the pin; not copied")
            hashes = {}
            with tarfile.open(tarball) as tar:
                for src, dst in pkg["files"].items():
                    member = tar.extractfile(f"package/{src}")
                    if member is None:
                        sys.exit(f"{spec}: {src} is not in the package")
                    target = ROOT / dst
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(member.read())
                    hashes[dst] = _sha256(target)
            pkg["sha256"] = hashes
            print(f"{spec}: {len(hashes)} files")
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")


def check(manifest: dict[str, Any]) -> list[str]:
    problems = []
    for pkg in manifest["packages"]:
        for dst, digest in pkg.get("sha256", {}).items():
            path = ROOT / dst
            if not path.exists():
                problems.append(f"{dst} is missing (make vendor)")
            elif _sha256(path) != digest:
                problems.append(f"{dst} differs from {pkg['name']}@{pkg['version']}")
    return problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the committed copies")
    args = parser.parse_args(argv)
    manifest = json.loads(MANIFEST.read_text())
    if args.check:
        problems = check(manifest)
        if problems:
            sys.exit("\n".join(problems))
        print("vendored files match their pins")
    else:
        fetch(manifest)


if __name__ == "__main__":
    main()
