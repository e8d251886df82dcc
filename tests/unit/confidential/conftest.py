"""Fixtures: a dev ledger with the registry and one confidential chaincode, and a reference enclave.

The enclave is TEST-ONLY code (reference_enclave.py) playing the TA; device keys are fake
attestation keys standing in for OP-TEE's attestation PTA key.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).parent))

from confidential_network import CHAINCODE, CHANNEL, MEASUREMENT, Network  # noqa: E402
from reference_enclave import ChaincodeSecrets, ReferenceEnclave  # noqa: E402

from foc.admin.definitions import DefinitionStore, define_chaincode  # noqa: E402
from foc.admin.devices import DeviceStore, enroll_device  # noqa: E402
from foc.ledger.ledger import DevLedger  # noqa: E402
from foc.ledger.peer import DevPeer  # noqa: E402
from foc.registry.ercc import EnclaveRegistry  # noqa: E402
from foc.wrapper.confidential import ConfidentialChaincode  # noqa: E402


@pytest.fixture(scope="session")
def device_key() -> rsa.RSAPrivateKey:
    """The attestation key of the enrolled device (RSA-3072, as CFG_ATTESTATION_PTA_KEY_SIZE)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


@pytest.fixture(scope="session")
def other_device_key() -> rsa.RSAPrivateKey:
    """A second device's key (2048 bits keeps key generation quick)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def same_size_stranger_key() -> rsa.RSAPrivateKey:
    """A device key that is not enrolled, of the enrolled key's size (RSA-3072)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


class _EnclaveSlot:
    """Lets tests swap which reference enclave the chaincode forwards to."""

    def __init__(self, enclave: ReferenceEnclave) -> None:
        self.enclave = enclave

    def invoke(self, request: bytes, get_state, **context):  # type: ignore[no-untyped-def]
        return self.enclave.invoke(request, get_state, **context)


@pytest.fixture
def network(tmp_path: Path, device_key: rsa.RSAPrivateKey) -> Iterator[Network]:
    home = tmp_path / "foc-home"
    definition = define_chaincode(CHAINCODE, MEASUREMENT.hex(), CHANNEL, home=home)
    enroll_device("device-1", device_key.public_key(), home=home)
    enclave = ReferenceEnclave(device_key, MEASUREMENT, ChaincodeSecrets())
    ledger = DevLedger(tmp_path / "ledger.sqlite", channel=CHANNEL)
    definitions = DefinitionStore(home)
    devices = DeviceStore(home)
    slot = _EnclaveSlot(enclave)
    peer = DevPeer(
        ledger,
        {
            "ercc": EnclaveRegistry(definitions, devices),
            CHAINCODE: ConfidentialChaincode(CHAINCODE, slot, definitions),
        },
    )
    net = Network(home, ledger, peer, definition, devices, enclave)
    net.slot = slot  # type: ignore[attr-defined]
    try:
        yield net
    finally:
        ledger.close()


@pytest.fixture
def registered(network: Network) -> Network:
    """The network with its enclave created and registered."""
    result = network.register(network.enclave.create(network.config()))
    assert result.committed, result.response.message
    return network
