"""Several chaincodes, each in its own TA, behind one device: kept apart by definition, TA and registry.

* each definition pins its own TA measurement and names its TA (`ta_uuid`, read from the `.ta`);
* the registry refuses an enclave of TA A registered for chaincode B: A's evidence carries A's
  measurement, B's definition pins B's;
* the catalogue sends each confidential chaincode's requests (invocations and enclave commands) to the
  TA its definition names, so two chaincodes on one proxy never share a TA (its keys, its state).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from confidential_network import CHANNEL, ENDPOINT, Network
from reference_enclave import ReferenceEnclave
from test_registry import refused

from foc.admin.definitions import DEFAULT_TA_UUID, DefinitionStore, define_chaincode
from foc.confidential.formats import EnclaveConfig
from foc.errors import UsageError
from foc.tee import abi
from foc.wrapper.catalogue import Catalogue

AUCTION_TA = uuid.UUID("b071727b-aa15-4d91-bd70-2c86688ab9c8")
AUCTION_MEASUREMENT = bytes.fromhex("a7" * 32)


def test_the_default_ta_is_foc_coffee_ta() -> None:
    assert DEFAULT_TA_UUID == abi.FOC_TA_UUID_STR


def test_definitions_name_their_ta_and_old_ones_mean_coffee(tmp_path: Path) -> None:
    store = DefinitionStore(tmp_path)
    auction = define_chaincode("auction", "a7" * 32, CHANNEL, home=tmp_path, ta_uuid=str(AUCTION_TA).upper())
    assert auction.ta_uuid == str(AUCTION_TA) and auction.ta_uuid_bytes == AUCTION_TA.bytes
    assert store.get("auction") == auction
    old = store.path("coffee")  # written before a device hosted several TAs: no ta_uuid
    old.parent.mkdir(parents=True)
    old.write_text('{"chaincode_id": "coffee", "version": "' + "5e" * 32 + '", "channel_id": "dev"}')
    assert store.get("coffee").ta_uuid == abi.FOC_TA_UUID_STR
    with pytest.raises(UsageError, match="not a uuid"):
        define_chaincode("x", "a7" * 32, CHANNEL, home=tmp_path, ta_uuid="auction")


def test_an_enclave_of_ta_a_is_refused_for_chaincode_b(network: Network) -> None:
    define_chaincode(
        "auction", AUCTION_MEASUREMENT.hex(), CHANNEL, home=network.home, ta_uuid=str(AUCTION_TA)
    )
    auction_config = EnclaveConfig("auction", AUCTION_MEASUREMENT.hex(), CHANNEL, ENDPOINT)
    # coffee's TA (its measurement) creates an enclave claiming to be the auction's
    coffee_ta = ReferenceEnclave(network.enclave.device_key, network.enclave.measurement)
    refused(network, coffee_ta.create(auction_config), "does not match")
    # the auction's own TA is accepted for it, beside coffee's enclave for coffee
    auction_ta = ReferenceEnclave(network.enclave.device_key, AUCTION_MEASUREMENT)
    assert network.register(auction_ta.create(auction_config)).committed
    assert network.register(network.enclave.create(network.config())).committed


class _RecordingProxy:
    """A device proxy that records which TA each request named (and answers nothing useful)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []

    def invoke_confidential(self, request: bytes, *, chaincode_uuid: bytes = b"", **kwargs: object) -> bytes:
        self.calls.append(("invoke", chaincode_uuid))
        return b"response"

    def create_enclave(self, config: bytes, *, chaincode_uuid: bytes = b"") -> bytes:
        self.calls.append(("create", chaincode_uuid))
        return b"credentials"

    def credentials(self, *, chaincode_uuid: bytes = b"") -> bytes:
        self.calls.append(("credentials", chaincode_uuid))
        return b"credentials"

    def invoke(self, *args: object, **kwargs: object) -> object:
        raise AssertionError("no plaintext invocation here")

    def device_key_info(self) -> object:
        raise AssertionError("not asked")


def test_each_confidential_chaincode_runs_in_the_ta_its_definition_names(tmp_path: Path) -> None:
    define_chaincode("coffee", "5e" * 32, CHANNEL, home=tmp_path)
    define_chaincode("auction", "a7" * 32, CHANNEL, home=tmp_path, ta_uuid=str(AUCTION_TA))
    proxy = _RecordingProxy()
    catalogue = Catalogue(tmp_path, proxy=proxy)  # type: ignore[arg-type]
    for name in ("coffee", "auction"):
        enclave = catalogue.confidential(name)._enclave  # noqa: SLF001 - the enclave it was given
        enclave.invoke(b"request", lambda key: None, transaction_id="tx", channel_id=CHANNEL)  # type: ignore[call-arg]
    assert proxy.calls == [("invoke", abi.FOC_TA_UUID.bytes), ("invoke", AUCTION_TA.bytes)]
