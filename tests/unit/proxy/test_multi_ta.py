"""One foc-proxy serving several TAs: per-request selection by chaincode_uuid, one pool and limits per
TA, a crash or a busy pool of one TA never touching another, Health listing every TA, and the
configuration (--ta UUID[=NAME], --config FILE) with its refusals."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from proxy_fakes import FakeTaBackend

from foc.errors import ConfigError
from foc.protocol import invocation_pb2 as pb
from foc.proxy import __main__ as proxy_main
from foc.proxy.client import ProxyClient
from foc.proxy.config import ProxyConfig, TaConfig, load_ta_file, parse_ta_spec
from foc.proxy.server import ProxyServer
from foc.tee import abi

AUCTION = uuid.UUID("0f1e2d3c-4b5a-4697-8877-665544332211")
OTHER = uuid.UUID("11111111-2222-4333-8444-555555555555")


@pytest.fixture
def backends() -> dict[uuid.UUID, FakeTaBackend]:
    return {abi.FOC_TA_UUID: FakeTaBackend(), AUCTION: FakeTaBackend()}


@pytest.fixture
def proxy(backends) -> Iterator[ProxyServer]:
    config = ProxyConfig(
        listen="127.0.0.1:0",
        tee="native",
        pool_size=2,
        tas=[
            TaConfig(AUCTION, "auction", pool_size=1, checkout_timeout=0.3),
            TaConfig(abi.FOC_TA_UUID, "coffee"),
        ],
    )
    server = ProxyServer(config, backends)
    server.start()
    yield server
    server.stop(grace=0.5)


@pytest.fixture
def client(proxy) -> Iterator[ProxyClient]:
    with ProxyClient(proxy.address, default_timeout=10) as c:
        yield c


def put(client: ProxyClient, ta: uuid.UUID | None, key: str = "k") -> pb.InvocationResponse:
    result = client.invoke(
        "put",
        [key, "v"],
        transaction_id=f"tx-{key}",
        get_state=lambda k: None,
        chaincode_uuid=ta.bytes if ta else b"",
    )
    return result


def test_each_request_runs_on_the_ta_its_chaincode_uuid_names(client, backends) -> None:
    before = {u: b.opened for u, b in backends.items()}
    assert put(client, AUCTION).ok
    assert put(client, abi.FOC_TA_UUID).ok
    assert put(client, None).ok  # empty uuid: the default TA, coffee (listed second)
    health = client.health()
    by_name = {ta.name: ta for ta in health.tas}
    assert by_name["auction"].transactions_total == 1
    assert by_name["coffee"].transactions_total == 2
    assert by_name["coffee"].is_default and not by_name["auction"].is_default
    assert by_name["auction"].uuid == AUCTION.bytes
    assert health.transactions_total == 3  # the sums of every TA's counters
    assert {u: b.opened for u, b in backends.items()} == before  # pre-opened: no OpenSession per tx


def test_a_ta_the_proxy_does_not_serve_is_refused_naming_the_served_ones(client) -> None:
    result = put(client, OTHER)
    assert result.error is not None and result.error.code == "UNKNOWN_CHAINCODE"
    assert str(OTHER) in result.error.message and "auction" in result.error.message
    with pytest.raises(Exception, match="UNKNOWN_CHAINCODE|this proxy serves"):
        client.credentials(chaincode_uuid=OTHER.bytes)


def test_each_ta_has_its_own_pool_size(proxy, client) -> None:
    by_name = {ta.name: ta for ta in client.health().tas}
    assert by_name["auction"].sessions_open == 1  # its own pool=1
    assert by_name["coffee"].sessions_open == 2  # the proxy-wide --pool
    assert client.health().sessions_open == 3


def test_a_busy_ta_does_not_delay_another_ta(proxy, client) -> None:
    """auction's only session is held by a transaction waiting for state: a second auction
    transaction is refused BUSY after auction's own checkout limit, coffee keeps serving."""
    waiting = threading.Event()
    release = threading.Event()

    def slow_state(key: str) -> bytes | None:
        waiting.set()
        release.wait(10)
        return b"v"

    held = threading.Thread(
        target=lambda: client.invoke(
            "get", ["k"], transaction_id="held", get_state=slow_state, chaincode_uuid=AUCTION.bytes
        )
    )
    held.start()
    try:
        assert waiting.wait(10)
        busy = put(client, AUCTION, "second")
        assert busy.error is not None and busy.error.code == "BUSY"
        assert put(client, abi.FOC_TA_UUID, "coffee").ok
    finally:
        release.set()
        held.join(10)


def test_a_crash_of_one_ta_leaves_the_other_ones_sessions_alone(proxy, client, backends) -> None:
    coffee_opened = backends[abi.FOC_TA_UUID].opened
    proxy.tas.select(AUCTION.bytes).pool.crash_ta_for_test()
    by_name = {ta.name: ta for ta in client.health().tas}
    assert by_name["auction"].ta_restarts_total == 1
    assert by_name["coffee"].ta_restarts_total == 0
    assert backends[abi.FOC_TA_UUID].opened == coffee_opened  # nothing reopened there
    assert put(client, AUCTION).ok and put(client, abi.FOC_TA_UUID).ok


def test_ta_specs_and_the_config_file(tmp_path: Path) -> None:
    assert parse_ta_spec(f"{AUCTION}=auction") == TaConfig(AUCTION, "auction")
    assert parse_ta_spec(str(AUCTION)).name == str(AUCTION)  # unnamed: its uuid
    with pytest.raises(ConfigError, match="not a TA uuid"):
        parse_ta_spec("coffee=6ceb")
    path = tmp_path / "proxy.toml"
    path.write_text(
        f'[[ta]]\nuuid = "{abi.FOC_TA_UUID}"\nname = "coffee"\n\n'
        f'[[ta]]\nuuid = "{AUCTION}"\nname = "auction"\npool = 2\ncheckout_timeout = 3\n'
    )
    tas = load_ta_file(path)
    assert [t.name for t in tas] == ["coffee", "auction"]
    assert tas[1].pool_size == 2 and tas[1].checkout_timeout == 3.0
    config = ProxyConfig(tas=tas, pool_size=4)
    assert [t.pool_size for t in config.tas] == [4, 2]  # unset: the proxy-wide value
    assert config.default_ta.name == "coffee" and config.ta_uuid == abi.FOC_TA_UUID
    path.write_text(f'[[ta]]\nuuid = "{AUCTION}"\ncolour = "red"\n')
    with pytest.raises(ConfigError, match="unknown key.*colour"):
        load_ta_file(path)
    path.write_text("[[ta]]\nname = 'x'\n")
    with pytest.raises(ConfigError, match="no uuid"):
        load_ta_file(path)


def test_the_same_ta_or_name_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="listed twice"):
        ProxyConfig(tas=[TaConfig(AUCTION, "a"), TaConfig(AUCTION, "b")])
    with pytest.raises(ConfigError, match="listed twice"):
        ProxyConfig(tas=[TaConfig(AUCTION, "a"), TaConfig(OTHER, "a")])
    with pytest.raises(ConfigError, match="TA name"):
        TaConfig(AUCTION, "no spaces please")


def test_the_command_line_lists_the_tas_and_keeps_the_single_ta_form(tmp_path: Path) -> None:
    config = proxy_main.parse_args(["--ta", f"{abi.FOC_TA_UUID}=coffee", "--ta", f"{AUCTION}=auction"])
    assert [(t.uuid, t.name) for t in config.tas] == [(abi.FOC_TA_UUID, "coffee"), (AUCTION, "auction")]
    single = proxy_main.parse_args([])
    assert [(t.uuid, t.name) for t in single.tas] == [(abi.FOC_TA_UUID, "coffee")]
    assert proxy_main.parse_args(["--ta-uuid", str(AUCTION)]).default_ta.uuid == AUCTION
    with pytest.raises(ConfigError, match="--native-lib is for --tee native"):
        proxy_main.parse_args(["--native-lib", str(tmp_path / "x.so")])
    with pytest.raises(ConfigError, match="--ta is for --tee optee"):
        proxy_main.parse_args(["--tee", "native", "--ta", str(AUCTION)])
