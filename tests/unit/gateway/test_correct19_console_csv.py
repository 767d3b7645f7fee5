"""correct19: the console's "Export CSV" does not hand a spreadsheet a formula.

Titles, names and reasons come from coordinators and from imported OCDS releases (anyone's
data); a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula in
Excel and LibreOffice (CSV injection, OWASP): `=HYPERLINK(...)` became a link, `=cmd|...`
a command prompt on an old Excel. Now such a text cell starts with `'` (shown as text);
numbers stay numbers. Runs `table.js`'s own `toCsv` in Node (skipped without it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

CONSOLE = Path(__file__).parents[3] / "services/gateway/src/gateway/console/static/console"
NODE = shutil.which("node")

SCRIPT = """
globalThis.localStorage = { getItem: () => null, setItem: () => {} };
Object.defineProperty(globalThis, "navigator", { value: { language: "en" }, configurable: true });
const { toCsv } = await import("./table.js");
const rows = JSON.parse(process.argv[2]);
process.stdout.write(toCsv([{ key: "v", label: "Value" }], rows));
"""


def to_csv(tmp_path: Path, values: list[object]) -> list[str]:
    assert NODE is not None
    for name in ("table.js", "i18n.js", "api.js"):
        shutil.copy(CONSOLE / name, tmp_path / name)
    (tmp_path / "package.json").write_text('{"type": "module"}')
    (tmp_path / "run.mjs").write_text(SCRIPT)
    rows = json.dumps([{"v": v} for v in values])
    done = subprocess.run([NODE, "run.mjs", rows], cwd=tmp_path, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode("utf-8").split("\r\n")[
        1:-1
    ]  # the header and the final empty line left out


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_a_text_cell_a_spreadsheet_would_read_as_a_formula_is_written_as_text(
    tmp_path: Path,
) -> None:
    formulas = ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
    cells = to_csv(tmp_path, formulas)
    assert cells == [
        '"\'=HYPERLINK(""http://x"",""y"")"',
        "'+1+2",
        "'-2+3",
        "'@SUM(A1)",
        "'\t=1",
        '"\'\r=1"',
    ]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_numbers_dates_and_plain_text_are_written_as_before(tmp_path: Path) -> None:
    cells = to_csv(tmp_path, [-5, 1.5, "2020-11-20", "GT Mobiele Communicatie 1", "a;b", None])
    assert cells == ["-5", "1.5", "2020-11-20", "GT Mobiele Communicatie 1", '"a;b"', ""]
