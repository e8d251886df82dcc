"""`foc package` / `foc package-id` reach the Fabric back end (foc.fabric) through the main CLI."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from foc.cli.main import main


def test_foc_package_prints_the_package_id_of_the_file_it_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "foc.tar.gz"
    assert main(["package", "--label", "foc_1", "--address", "127.0.0.1:9999", "-o", str(out)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == "foc_1:" + hashlib.sha256(out.read_bytes()).hexdigest()
    assert main(["package-id", str(out)]) == 0
    assert capsys.readouterr().out.strip() == printed


def test_foc_package_rejects_a_bad_address(tmp_path: Path) -> None:
    rc = main(["package", "--label", "foc_1", "--address", "no-port-here", "-o", str(tmp_path / "x.tgz")])
    assert rc != 0
    assert not (tmp_path / "x.tgz").exists()
