"""`foc chaincode new` / `build`: the project a developer starts from, and every refusal.

Building the TA and running the generated tests are in tests/native/test_chaincode_sdk.py (gcc) and
the qemu tier (the tutorial); here: what is written, and the errors that lose nothing.
"""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path

import pytest

from foc.cli import main as cli
from foc.errors import TargetError, UsageError
from foc.sdk import project as sdk
from foc.sdk.project import check_chaincode_name, new_project

FIXED = uuid.UUID("0d2a5f9e-3c41-4b7e-9a20-6e1f7c8d9b35")


def test_a_new_project_has_the_source_build_file_readme_and_host_test(tmp_path: Path) -> None:
    project = new_project("tally", tmp_path / "tally", ta_uuid=FIXED)
    assert [p.relative_to(project.root).as_posix() for p in project.files] == [
        "tally.c",
        "Makefile",
        "README.md",
        "tests/test_tally.py",
        ".gitignore",
    ]
    source = (project.root / "tally.c").read_text()
    assert "#include <foc_chaincode.h>" in source and '.name = "tally"' in source
    assert "@" not in source  # every placeholder filled
    makefile = (project.root / "Makefile").read_text()
    assert re.search(rf"^CHAINCODE_UUID := {FIXED}$", makefile, re.M)
    assert f"FOC_TA_DIR ?= {sdk.FOC_TA_DIR}" in makefile and "include $(FOC_TA_DIR)/chaincode.mk" in makefile
    test = (project.root / "tests" / "test_tally.py").read_text()
    assert "from foc.sdk.host import HostChaincode" in test and str(FIXED) in test
    readme = (project.root / "README.md").read_text()
    assert f"build/{FIXED}.ta" in readme and "docs/chaincode.md" in readme
    assert (sdk.FOC_TA_DIR / "chaincode.mk").is_file() and (
        sdk.FOC_TA_DIR / "include" / "foc_chaincode.h"
    ).is_file()


def test_fresh_uuids_differ(tmp_path: Path) -> None:
    assert new_project("a", tmp_path / "a").ta_uuid != new_project("b", tmp_path / "b").ta_uuid


@pytest.mark.parametrize("name", ["", "9lives", "has space", "semi;colon", "x" * 65, "dash-", "under_"])
def test_names_a_chaincode_cannot_have(name: str) -> None:
    if name in ("dash-", "under_"):  # trailing separators are fine for Fabric and C
        assert check_chaincode_name(name) == name
        return
    with pytest.raises(UsageError, match="invalid chaincode name"):
        check_chaincode_name(name)


def test_refusals_write_nothing(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.c").write_text("keep me")
    with pytest.raises(UsageError, match="not an empty directory"):
        new_project("tally", taken)
    assert [p.name for p in taken.iterdir()] == ["mine.c"]
    inside = sdk.REPO_ROOT / "ccmulti-test-project-should-not-exist"
    with pytest.raises(UsageError, match="inside FOC's own tree"):
        new_project("tally", inside)
    assert not inside.exists()


def test_build_refuses_a_directory_that_is_no_project(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a chaincode project"):
        sdk.build_project(tmp_path)


def test_build_without_an_image_says_to_build_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = new_project("tally", tmp_path / "tally")
    monkeypatch.setenv("FOC_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(TargetError) as caught:
        sdk.build_project(project.root)
    assert "foc-deploy qemu build" in (caught.value.hint or "")
    assert not (project.root / "build").exists()  # nothing built before the dev kit was found


def test_the_cli_creates_and_refuses_with_exit_codes(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "counter"
    argv = ["chaincode", "new", "counter", "--dir", str(target), "--uuid", str(FIXED)]
    assert cli.main(argv, out=out, err=err) == 0
    assert f"TA uuid {FIXED}" in out.getvalue() and f"next: foc chaincode build {target}" in out.getvalue()
    assert cli.main(argv, out=out, err=err) == UsageError.exit_code  # exists now
    assert (
        cli.main(["chaincode", "new", "x", "--dir", str(tmp_path / "x"), "--uuid", "nope"], out=out, err=err)
        == 2
    )
    assert "is not a uuid" in err.getvalue()
    assert cli.main(["chaincode", "build", str(tmp_path / "nothing")], out=out, err=err) == 2
