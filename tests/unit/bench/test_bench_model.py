"""foc.bench's pure parts: percentiles, cell keys and matrix, TEE/normal-world ratios, the byte relay."""

from __future__ import annotations

import socket
import threading
import time

from foc.bench.model import MODES, RW_CELLS, BenchReport, Cell, CellResult, expected_cells, percentile
from foc.bench.relay import ByteCountingRelay
from foc.bench.runner import CountingProxy, run_cell


def test_percentile_interpolates_and_handles_edges() -> None:
    assert percentile([], 0.5) == 0.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([4.0, 1.0, 3.0, 2.0], 1.0) == 4.0


def test_matrix_has_every_client_count_and_rw_cell_per_mode() -> None:
    cells = expected_cells(["optee", "guest-native"])
    assert len(cells) == 2 * len(MODES) * (4 + len(RW_CELLS))
    assert len({c.key for c in cells}) == len(cells)
    assert Cell("optee", "confidential", "rw", 1, 64, 1, 16).key == "optee/confidential/rw/c1/r64/w1/v16"


def _result(system: str, tps: float) -> CellResult:
    cell = Cell(system, "plaintext", "coffee", 4)
    r = CellResult.from_samples(
        cell, [("create", 10.0, 2)] * 10, errors=0, duration_s=10 / tps, open_sessions=0, link_bytes=1000
    )
    return r


def test_ratio_is_normal_world_throughput_over_tee_throughput() -> None:
    report = BenchReport("c", "t", False, 1.0, 0.1, {}, ["optee", "guest-native"])
    report.results = [_result("optee", 20.0), _result("guest-native", 30.0)]
    assert report.ratios() == {"plaintext/coffee/c4": 1.5}
    r = report.results[0]
    assert r.invokes_per_tx == 2 and r.bytes_per_tx == 100 and r.op_p50_ms == {"create": 10.0}


def test_relay_forwards_and_counts_both_directions() -> None:
    server = socket.create_server(("127.0.0.1", 0))

    def echo() -> None:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(1024):
                conn.sendall(data)

    threading.Thread(target=echo, daemon=True).start()
    with ByteCountingRelay(f"127.0.0.1:{server.getsockname()[1]}") as relay:
        host, port = relay.address.split(":")
        with socket.create_connection((host, int(port))) as c:
            c.sendall(b"x" * 100)
            got = b""
            while len(got) < 100:
                got += c.recv(1024)
        assert got == b"x" * 100
        for _ in range(100):
            if relay.total() == 200:
                break
            threading.Event().wait(0.01)
        assert relay.total() == 200
        relay.reset()
        assert relay.total() == 0
    server.close()


def test_counting_proxy_counts_get_state_callbacks_per_thread() -> None:
    class Fake:
        name = "fake"

        def invoke(self, function: str, *, get_state, **kw):  # type: ignore[no-untyped-def]
            return [get_state(k) for k in ("a", "b", "c")]

    proxy = CountingProxy(Fake())
    assert proxy.invoke("f", get_state=lambda k: k.encode()) == [b"a", b"b", b"c"]
    assert proxy.take() == 3 and proxy.take() == 0
    assert proxy.name == "fake"


class _SlowCoffee:
    """A coffee chaincode whose every transaction takes `delay_s`; `fail_first` transactions raise."""

    def __init__(self, delay_s: float, fail_first: int = 0) -> None:
        self.delay_s, self.fail_first = delay_s, fail_first
        self.counts: dict[str, int] = {}

    def _work(self) -> None:
        time.sleep(self.delay_s)
        if self.fail_first > 0:
            self.fail_first -= 1
            raise ConnectionError("proxy gone")

    def invoke(self, function: str, args: list[bytes | str]) -> bytes:
        self._work()
        person = str(args[0])
        self.counts[person] = self.counts.get(person, 0) + (3 if function == "add" else 0)
        return b"OK"

    def query(self, function: str, args: list[bytes | str]) -> bytes:
        self._work()
        person = str(args[0])
        return f"person: {person}, number of consumed coffees: {self.counts.get(person, 0)}".encode()


def _run(contract: _SlowCoffee, *, warmup_s: float, duration_s: float) -> CellResult:
    return run_cell(
        Cell("host-native", "plaintext", "coffee", 1),
        [contract],
        counter=CountingProxy(object()),
        prefix="t",
        warmup_s=warmup_s,
        duration_s=duration_s,
        sessions_opened=lambda: 0,
        link_bytes=lambda: 100,
        reset_link=lambda: None,
    )


def test_a_cell_slower_than_its_window_stretches_the_window_to_its_first_sample() -> None:
    """A `--quick` window on a loaded machine: 0.05 s per cell, 0.2 s per transaction. The cell still
    has a sample (CI once saw a cell come back empty), and its throughput is over the stretched window."""
    result = _run(_SlowCoffee(0.2), warmup_s=0.0, duration_s=0.05)
    assert result.transactions == 1 and result.errors == 0
    assert result.duration_s >= 0.2 and result.throughput_tps <= 1 / 0.2 + 1e-6
    assert result.p50_ms >= 200


def test_a_transaction_that_fails_in_the_warm_up_is_counted_as_an_error() -> None:
    result = _run(_SlowCoffee(0.01, fail_first=1), warmup_s=0.1, duration_s=0.1)
    assert result.errors == 1 and "ConnectionError: proxy gone" in result.first_error
    assert result.transactions > 0
