"""Real published OCDS data through `audit ocds import`, counted (issue 17 (a), import33).

    .venv/bin/python -m bench.ocds_real_feed DIR [DIR...] [--out report.json] [--keep JSONL]

Every `*.json` under the directories (a release or record package, a bare release, or a bare
record with embedded releases: wrapped into a record package) becomes one line of a JSON
Lines file. A NATS server (temp dir, random port) and the registry service (in this process)
are started, `.venv/bin/audit ocds import FILE --nats-url URL` runs as a subprocess, and its
report is counted: releases read, imported, duplicates, skipped -- the skipped by reason,
each reason with its JSON path's indices removed (`contracts[].period.endDate: ...`) and the
values a reason quotes folded (`<ocid>`, dates, numbers), so that one cause is one row.
Prints a table per publisher folder and in all; `--out` writes it as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import nats

from bench.infra import nats_server
from bootstrap.parts import registry_service
from eventstore.clock import SystemClock
from eventstore.service_app import serve_in_process
from eventstore.store import EventStore

AUDIT = Path(sys.executable).parent / "audit"


def item(data: Any) -> Any:
    """A package or release as the importer reads it; a bare record as a record package."""
    if isinstance(data, dict) and "releases" in data and "ocid" not in data:
        return data  # a release package
    if isinstance(data, dict) and "records" in data:
        return data
    if isinstance(data, dict) and "releases" in data:  # a bare record
        return {
            "uri": "https://example.invalid/record",
            "publishedDate": "2018-01-01T00:00:00Z",
            "publisher": data.get("publisher") or {"name": "unknown"},
            "version": "1.1",
            "records": [{k: v for k, v in data.items() if k != "publisher"}],
        }
    return data


def releases_in(data: Any) -> int:
    if isinstance(data, dict) and "records" in data:
        return sum(len([r for r in rec.get("releases", []) if "ocid" in r or "tag" in r])
                   or 1 for rec in data["records"])  # fmt: skip
    if isinstance(data, dict) and "releases" in data:
        return len(data["releases"])
    return 1


def gather(dirs: list[Path]) -> list[tuple[str, Any]]:
    found = []
    for d in dirs:
        for path in sorted(d.rglob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue
            found.append((str(path.relative_to(d)), item(data)))
    return found


_FOLD = (
    (re.compile(r"\[\d+\]"), "[]"),
    (re.compile(r"/\d+(?=/|:|$)"), "/[]"),
    (re.compile(r"\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?"), "<day>"),
    (re.compile(r"\(.*\) has no identifier"), "(<name>) has no identifier"),
    (re.compile(r"'[^']*'"), "'…'"),
    (re.compile(r"\b(ocds|OCDS|ocid)-[A-Za-z0-9_.-]+"), "<ocid>"),
    (re.compile(r"\b\d+(\.\d+)?\b"), "<n>"),
)
_BLOB = (re.compile(r"\{[^{}]*\}"), re.compile(r"\[[^\[\]]*['{…][^\[\]]*\]"))
_WHERE = re.compile(r"^\$(\.(releases|records)\[\d+\])?(\.releases\[\d+\]|\.compiledRelease)?\.?")


def reason_of(line: str) -> str:
    """A `skipped <where>: <reason>` line, as one row per cause: the path inside the release
    (indices as `[]`) and the reason with the values it quotes folded."""
    text = line.split("skipped ", 1)[1]
    text = re.sub(r"^line \d+: ", "", text)
    text = _WHERE.sub("", text).replace("OCDS 1.1.5", "@SCHEMA@")
    for _ in range(4):  # nested JSON values quoted by a schema error
        for blob in _BLOB:
            text = blob.sub("…", text)
    for pattern, repl in _FOLD:
        text = pattern.sub(repl, text)
    return text.replace("@SCHEMA@", "OCDS 1.1.5").lstrip(":. ")[:160]


async def run(jsonl: Path) -> tuple[int, str, str]:
    with nats_server() as server:
        clock = SystemClock()
        nc = await nats.connect(server.url)
        registry = await serve_in_process(
            server.url, [registry_service(EventStore(nc, clock), clock)]
        )
        try:
            proc = await asyncio.create_subprocess_exec(
                str(AUDIT), "ocds", "import", str(jsonl), "--nats-url", server.url,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            out, err = await proc.communicate()
        finally:
            await registry.stop()
            await nc.close()
    return proc.returncode or 0, out.decode(), err.decode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--keep", type=Path, help="write the JSON Lines fed to the import here")
    parser.add_argument("--raw", type=Path, help="write the import's own report here")
    args = parser.parse_args()
    items = gather(args.dirs)
    jsonl = args.keep or Path(tempfile.mkdtemp(prefix="ocds-real-")) / "feed.jsonl"
    with jsonl.open("w") as f:
        for _, data in items:
            f.write(json.dumps(data, ensure_ascii=False) + "\n")
    total = sum(releases_in(d) for _, d in items)
    code, out, err = asyncio.run(run(jsonl))
    lines = (out + "\n" + err).splitlines()
    if args.raw:
        args.raw.write_text(out + "\n" + err)
    skipped = [ln for ln in lines if ln.startswith("skipped ")]
    unreadable = [ln for ln in lines if ln.startswith("unreadable ")]
    summary = next((ln for ln in reversed(lines) if ln.startswith("imported ")), "")
    folder: Counter[str] = Counter()
    for ln in skipped:
        m = re.match(r"skipped line (\d+):", ln)
        if m:
            folder[items[int(m.group(1)) - 1][0].split("/")[0]] += 1
    reasons = Counter(reason_of(ln) for ln in skipped)
    report: dict[str, Any] = {
        "files": len(items), "releases_in_files": total, "exit": code, "summary": summary,
        "skipped": len(skipped), "unreadable": len(unreadable),
        "skipped_by_folder": dict(folder.most_common()),
        "reasons": [{"count": n, "reason": r} for r, n in reasons.most_common()],
    }  # fmt: skip
    print(f"files {len(items)}, releases in them {total}; exit {code}; {summary}")
    print(f"skipped lines {len(skipped)}, unreadable {len(unreadable)}")
    for folder_name, n in folder.most_common():
        print(f"  {n:6d}  {folder_name}")
    for r in report["reasons"]:
        print(f"{r['count']:6d}  {r['reason']}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
