"""The board tier: the rpi3 device scenarios on a real Raspberry Pi 3, when FOC_BOARD_* name one.

    FOC_BOARD_HOST=192.0.2.7          the board's address (SSH, and the proxy on 50051): required
    FOC_BOARD_SERIAL=/dev/ttyUSB0     its UART (GPIO14/15): host key and fallback provisioning
    FOC_BOARD_SECURE_SERIAL=/dev/ttyUSB1  a second UART wired to the secure world's output, if any
    FOC_BOARD_NAME=bench-pi           the name its SSH host key was pinned under by `flash --board`
    FOC_BOARD_SSH_PORT=22

Flash the card first (`foc-deploy rpi3 flash --device /dev/sdX --board NAME`), boot the board, then
`FOC_BOARD_HOST=... FOC_BOARD_NAME=... scripts/test tests/board`. Without FOC_BOARD_HOST every test
here is skipped, with that reason.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from device_checks import Device

from foc.deploy import api
from foc.deploy.rpi3.identity import BoardIdentity

NO_BOARD = (
    "board tier: no board named (set FOC_BOARD_HOST=ADDR, and FOC_BOARD_SERIAL/FOC_BOARD_NAME as needed)"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("FOC_BOARD_HOST"):
        here = Path(__file__).parent
        for item in items:
            if here in Path(str(item.path)).parents:
                item.add_marker(pytest.mark.skip(reason=NO_BOARD))


@pytest.fixture(scope="session")
def real_board() -> Iterator[Device]:
    host = os.environ["FOC_BOARD_HOST"]
    name = os.environ.get("FOC_BOARD_NAME") or host.replace(":", "_")
    ssh_port = int(os.environ.get("FOC_BOARD_SSH_PORT", "22"))
    running = api.up(
        "rpi3", instance="board", host=host, serial=os.environ.get("FOC_BOARD_SERIAL") or None,
        ssh_port=ssh_port, board=name,
    )  # fmt: skip
    try:
        yield Device(running, BoardIdentity.of(name), host, ssh_port, "board")
    finally:
        api.down("rpi3", instance="board")


@pytest.fixture(scope="session")
def secure_uart(real_board: Device) -> Iterator[Path]:
    """The second UART's output, captured to a file for the session (pyserial)."""
    port = os.environ.get("FOC_BOARD_SECURE_SERIAL")
    if not port:
        pytest.skip(
            "no second UART wired (FOC_BOARD_SECURE_SERIAL): the secure world's lines share the console"
        )
    import serial

    log = real_board.running.logs / "secure-uart.log"
    stop = threading.Event()

    def capture() -> None:
        with serial.Serial(port, 115200, timeout=0.2) as uart, log.open("ab") as out:
            while not stop.is_set():
                out.write(uart.read(4096))
                out.flush()

    thread = threading.Thread(target=capture, daemon=True)
    thread.start()
    try:
        yield log
    finally:
        stop.set()
        thread.join(timeout=5)
