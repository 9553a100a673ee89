"""Price sheets (storagebench.pricing): the shipped example reads, and a bad sheet is one line and exit 2
before anything runs or is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from storagebench.cli import main
from storagebench.pricing import load_sheet

SHEET = Path(__file__).resolve().parents[1] / "pricing" / "aws-us-east-1.example.yaml"
TEXT = SHEET.read_text()


def test_the_example_sheet_reads_and_prices_cpu_as_vcpu_time() -> None:
    sheet = load_sheet(SHEET)
    assert sheet.as_of.isoformat() == "2026-12-06" and "illustrative" in sheet.source
    # 3,600 µs of CPU per operation: a million operations use 3,600 s, one vCPU-hour
    assert sheet.cpu_per_million_ops(3600.0) == pytest.approx(0.0504)
    assert sheet.storage_price("s3") == (0.023, "s3")
    assert sheet.storage_price("") == (0.08, "block storage")


@pytest.mark.parametrize(("text", "says"), [
    (TEXT.replace("vcpu_hour: 0.0504", "vcpu_hour: -1"), "vcpu_hour: Input should be greater than or equal to 0"),
    (TEXT + "egress_gb: 0.09\n", "egress_gb: Extra inputs are not permitted"),
    (TEXT.replace("      get: 0.40", "      get: .inf"), "requests_per_million.get: Input should be a finite number"),
    (TEXT.replace("vcpu_hour: 0.0504", "vcpu_hour: true"), "vcpu_hour: Input should be a valid number"),
    (TEXT.replace("vcpu_hour: 0.0504", 'vcpu_hour: "0.05"'), "vcpu_hour: Input should be a valid number"),
    ("\n".join(line for line in TEXT.splitlines() if not line.startswith("source")), "source: Field required"),
    ("source: x\nas_of: [\n", "is not valid YAML"),
    ("- 1\n", "must be a mapping of prices"),
])
@pytest.mark.parametrize("command", ["report", "run"])
def test_a_bad_sheet_is_one_line_and_exit_2(text: str, says: str, command: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(text)
    results = tmp_path / "results"
    args = [command, str(results), "--prices", str(sheet)] if command == "report" else [
        command, "--stores", "sqlite", "--results-dir", str(results), "--prices", str(sheet)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and str(sheet) in err, err
    assert not results.exists()  # nothing ran, nothing was written
