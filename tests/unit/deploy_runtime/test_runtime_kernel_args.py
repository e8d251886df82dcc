"""api.up(kernel_args=...): extra guest kernel command-line options (e.g. foc.persist=1)."""

from __future__ import annotations

import pytest

from foc.deploy import api, qemu
from foc.deploy.qemu import QemuMachine
from foc.errors import UsageError


def test_kernel_args_are_appended_to_the_machine_command_line() -> None:
    machine = QemuMachine()
    assert qemu.with_kernel_args(machine, ()) is machine
    extended = qemu.with_kernel_args(machine, ["foc.persist=1", "foc.proxy=0"])
    assert extended.append == f"{machine.append} foc.persist=1 foc.proxy=0"
    assert machine.append == QemuMachine().append  # the original is unchanged


@pytest.mark.parametrize("bad", ["", "foc.persist=1 init=/bin/sh", "a'b", 'x"y', "tab\there"])
def test_kernel_args_that_are_not_one_word_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="one non-empty word"):
        qemu.with_kernel_args(QemuMachine(), [bad])


def test_up_passes_kernel_args_to_the_instance_and_refuses_bad_ones_before_building(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    seen: list[QemuMachine] = []

    class Stop(Exception):
        pass

    class FakeInstance:
        def __init__(self, image, *, run_dir, port, machine) -> None:  # noqa: ANN001
            seen.append(machine)
            raise Stop

    monkeypatch.setattr(qemu.QemuRuntime, "image_for_up", lambda self, *args: object())
    monkeypatch.setattr(qemu.QemuRuntime, "machine", lambda self: QemuMachine())
    monkeypatch.setattr(qemu, "QemuInstance", FakeInstance)
    monkeypatch.setattr("foc.deploy.paths.run_dir", lambda target, instance: tmp_path / instance)
    with pytest.raises(Stop):
        api.up("qemu", build=False, instance="kargs", kernel_args=("foc.persist=1",))
    assert seen[0].append.endswith(" foc.persist=1")

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("built despite a bad kernel argument")

    monkeypatch.setattr(qemu.QemuRuntime, "build", no_build)
    with pytest.raises(UsageError):
        api.up("qemu", build=True, instance="kargs", kernel_args=("two words",))
