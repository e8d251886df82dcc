"""A dev network for ConfidentialContract tests: `foc.connect` with the registry and one confidential
chaincode whose enclave is the TEST-ONLY reference enclave (tests/unit/confidential), behind a
recording `Contract` that tests can make tamper with the enclave's responses."""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).parent.parent / "confidential"))

from reference_enclave import ChaincodeSecrets, GetState, GetStateByRange, ReferenceEnclave  # noqa: E402

from foc.admin.definitions import DefinitionStore, define_chaincode  # noqa: E402
from foc.admin.devices import DeviceStore, enroll_device  # noqa: E402
from foc.client.confidential import ConfidentialContract  # noqa: E402
from foc.client.devledger import DevLedgerContract  # noqa: E402
from foc.client.network import Network, connect  # noqa: E402
from foc.confidential.formats import EnclaveConfig  # noqa: E402
from foc.protocol.context import Creator  # noqa: E402

CHANNEL = "dev"
CHAINCODE = "coffee"
MEASUREMENT = bytes.fromhex("7a" * 32)
ENDPOINT = "device-1:7052"


class EnclaveSlot:
    """The enclave the chaincode forwards to; tests may swap it for a rogue one."""

    def __init__(self, enclave: ReferenceEnclave) -> None:
        self.enclave = enclave

    def invoke(
        self,
        confidential_request: bytes,
        get_state: GetState,
        *,
        transaction_id: str = "",
        channel_id: str = "",
        creator: Creator | None = None,
        get_state_by_range: GetStateByRange | None = None,
    ) -> bytes:
        return self.enclave.invoke(
            confidential_request, get_state, creator=creator, get_state_by_range=get_state_by_range
        )


@dataclass
class RecordingContract:
    """A `Contract` in front of another: records every call; `tamper` rewrites `__invoke` payloads."""

    inner: DevLedgerContract
    calls: list[tuple[str, str]] = field(default_factory=list)  # (kind, function)
    transients: list[Mapping[str, bytes] | None] = field(default_factory=list)  # per call
    tamper: Callable[[bytes], bytes] | None = None
    before_endorse: Callable[[], None] | None = None
    last_endorse: tuple[bytes | str, ...] = ()

    def invoke(
        self, function: str, args: Sequence[bytes | str], *, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        self.calls.append(("invoke", function))
        self.transients.append(transient)
        self.last_endorse = tuple(args)
        if self.before_endorse is not None:
            self.before_endorse()
        return self.inner.invoke(function, args, transient=transient)

    def query(
        self, function: str, args: Sequence[bytes | str], *, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        self.calls.append(("query", function))
        self.transients.append(transient)
        payload = self.inner.query(function, args, transient=transient)
        return self.tamper(payload) if self.tamper is not None else payload

    @property
    def submitted(self) -> list[str]:
        return [function for kind, function in self.calls if kind == "invoke"]


@dataclass
class ClientNetwork:
    home: Path
    net: Network
    slot: EnclaveSlot
    device_key: rsa.RSAPrivateKey
    secrets: ChaincodeSecrets
    recorder: RecordingContract

    def config(self) -> EnclaveConfig:
        return EnclaveConfig(CHAINCODE, MEASUREMENT.hex(), CHANNEL, ENDPOINT)

    def register(self, enclave: ReferenceEnclave | None = None) -> None:
        credentials = (enclave or self.slot.enclave).create(self.config())
        self.net.contract("ercc").invoke("registerEnclave", [base64.b64encode(credentials)])

    def contract(self, **kwargs: object) -> ConfidentialContract:
        return ConfidentialContract(
            self.recorder,
            chaincode_id=CHAINCODE,
            channel=CHANNEL,
            registry=self.net.contract("ercc"),
            definitions=DefinitionStore(self.home),
            **kwargs,  # type: ignore[arg-type]
        )

    def values(self) -> dict[str, bytes]:
        dump = self.net.ledger.state_dump()
        return {k: v for (ns, k), (v, _) in dump.items() if ns == CHAINCODE}


def make_network(
    tmp_path: Path, device_key: rsa.RSAPrivateKey, *, define: bool = True, allow_insecure_native: bool = False
) -> ClientNetwork:
    home = tmp_path / "foc-home"
    if define:
        define_chaincode(CHAINCODE, MEASUREMENT.hex(), CHANNEL, home=home)
    enroll_device("device-1", device_key.public_key(), home=home)
    secrets = ChaincodeSecrets()
    slot = EnclaveSlot(ReferenceEnclave(device_key, MEASUREMENT, secrets))
    net = connect(
        ledger=tmp_path / "ledger.sqlite",
        enclave=slot,
        home=home,
        channel=CHANNEL,
        allow_insecure_native=allow_insecure_native,
    )
    recorder = RecordingContract(net.contract(CHAINCODE, plaintext=True))
    assert DeviceStore(home).get("device-1")
    return ClientNetwork(home, net, slot, device_key, secrets, recorder)
