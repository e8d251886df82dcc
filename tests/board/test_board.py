"""The rpi3 device scenarios (tests/device_checks.py) on a real Raspberry Pi 3: the same ones the
rpi3 tier runs on the SD image under QEMU raspi3b. Skipped without FOC_BOARD_HOST (see conftest)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import device_checks as checks
from device_checks import Device


def test_tee_devices_driver_and_secure_storage_on_the_card(real_board: Device) -> None:
    checks.tee_devices_and_supplicant(real_board)


def test_xtest_including_secure_storage_and_the_attestation_pta(real_board: Device) -> None:
    checks.xtest_subset(real_board)


def test_the_proxy_serves_tls_only_with_the_pinned_certificate(real_board: Device, tmp_path: Path) -> None:
    checks.proxy_is_tls_only(real_board, tmp_path)


def test_the_proxy_refuses_plaintext_on_the_lan(real_board: Device) -> None:
    checks.proxy_refuses_plaintext_on_the_lan(real_board)


def test_coffee_scenario_through_the_wrapper_over_tls(real_board: Device, tmp_path: Path) -> None:
    checks.coffee_over_tls(real_board, tmp_path)


def test_ssh_provisioning_of_a_rebuilt_ta(real_board: Device) -> None:
    checks.reprovision_a_rebuilt_ta(real_board)


def test_mutual_tls_when_asked(real_board: Device) -> None:
    checks.mutual_tls(real_board)


def test_foc_demo_target_rpi3(real_board: Device, tmp_path: Path) -> None:
    checks.confidential_demo(real_board, tmp_path, {"FOC_BOARD_HOST": os.environ["FOC_BOARD_HOST"]})


def test_the_second_uart_carries_the_secure_worlds_lines(real_board: Device, secure_uart: Path) -> None:
    with real_board.shell() as sh:
        sh.check("xtest 1001", timeout=600)  # loads TAs: OP-TEE logs on its UART
    time.sleep(2)
    assert secure_uart.stat().st_size > 0, "nothing arrived on FOC_BOARD_SECURE_SERIAL"
