"""Boot-log scanning: /init markers, fail-fast panics, and the QEMU machine facts."""

from __future__ import annotations

import pytest

from foc.deploy.qemu import QemuMachine, scan_boot_logs
from foc.errors import ConfigError

GOOD_BOOT = """\
[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x411fd070]
[    1.912345] optee: revision 4.10 (...)\r
FOC-BOOT: modules loaded\r
FOC-BOOT: tee-supplicant started\r
FOC-BOOT: proxy started pid=97\r
FOC-BOOT: ready\r
optee# \x1b[6n"""


def test_good_boot_with_proxy() -> None:
    state = scan_boot_logs(GOOD_BOOT, "I/TC: OP-TEE version: 4.10.0\n")
    assert state.ready and state.modules_loaded and state.supplicant_started
    assert state.proxy == "started" and state.proxy_pid == 97
    assert not state.failed
    assert state.markers == ["modules loaded", "tee-supplicant started", "proxy started pid=97", "ready"]


def test_proxy_disabled_and_partial_boot() -> None:
    state = scan_boot_logs("FOC-BOOT: modules loaded\nFOC-BOOT: proxy disabled\n")
    assert state.proxy == "disabled" and not state.ready and not state.failed


def test_init_error_is_a_failure() -> None:
    state = scan_boot_logs("FOC-BOOT: modules loaded\nFOC-BOOT: ERROR tee-supplicant exited\n")
    assert state.failed and state.errors == ["tee-supplicant exited"]


def test_kernel_panic_gives_context() -> None:
    normal = "\n".join(f"[ {i}.0] line {i}" for i in range(30))
    normal += "\n[ 31.0] Kernel panic - not syncing: VFS: Unable to mount root fs\n[ 31.1] ---[ end ]---\n"
    state = scan_boot_logs(normal, "")
    assert state.panic == "normal world"
    assert "Unable to mount root fs" in state.panic_context
    assert "line 29" in state.panic_context and "line 0\n" not in state.panic_context


def test_optee_panic_in_secure_log() -> None:
    secure = (
        "I/TC: Primary CPU switching to normal world boot\nE/TC:0 0 Panic at core/kernel/boot.c:123 <x>\n"
    )
    state = scan_boot_logs("[ 0.1] booting\n", secure)
    assert state.panic == "secure world" and "core/kernel/boot.c" in state.panic_context


def test_a_ta_panic_is_not_an_optee_panic() -> None:
    secure = "E/TC:? 0 TA panicked with code 0xdead\nE/LD:  Status of TA 6ceb95ba-...\n"
    assert scan_boot_logs(GOOD_BOOT, secure).panic is None


def test_machine_facts_from_target_data() -> None:
    m = QemuMachine.from_facts(
        {
            "qemu": "qemu-system-aarch64",
            "cpu": "cortex-a72",
            "smp": "2",
            "memory": "512",
            "append": "console=ttyAMA0",
            "share_tag": "host0",
        }
    )
    assert (m.cpu, m.smp, m.memory_mb, m.append) == ("cortex-a72", 2, 512, "console=ttyAMA0")
    with pytest.raises(ConfigError, match="memory"):
        QemuMachine.from_facts({"memory": "lots"})


def test_real_target_data_gives_a_machine() -> None:
    from foc.deploy.targets import get_target

    m = QemuMachine.from_facts(dict(get_target("qemu").machine))
    assert "secure=on" in m.machine and m.cpu != "max"
