"""The embedded dev ledger as a `Contract` back end, with the chaincodes the `foc` CLI hosts on it.

    with DevNetwork.open(path, proxy=client, confidential="coffee") as net:
        coffee = net.contract("coffee")          # DevLedgerContract: __invoke / __endorse
        registry = net.contract("ercc")          # the enclave registry
        plain = net.contract("foc")              # FOC's plaintext wrapper

`DevLedgerContract` is the dev-ledger implementation of `foc.client.gateway.Contract`: invoke =
simulate + commit one block, query = simulate only; a chaincode refusal raises
`EndorsementFailure` (status, message) exactly as the Fabric Gateway client does, and a commit
conflict raises `MvccConflict`. `DevNetwork` owns one `DevLedger` file and the installed
chaincodes: FOC's plaintext wrapper (`foc`), the enclave registry (`ercc`) and confidential
chaincodes (`ConfidentialChaincode` forwarding to an enclave, normally the TA through the proxy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from foc.admin.definitions import DefinitionStore
from foc.admin.devices import DeviceStore
from foc.chaincode.stub import Chaincode
from foc.client.contract import Arg, encode_args
from foc.errors import EndorsementFailure, UsageError
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.registry.ercc import REGISTRY_NAME, EnclaveRegistry
from foc.wrapper.confidential import ConfidentialChaincode, ConfidentialEnclave

if TYPE_CHECKING:
    from foc.proxy.client import ProxyClient

WRAPPER_NAME = "foc"  # FOC's plaintext wrapper chaincode (and its ledger namespace)


class DevLedgerContract:
    """`Contract` on a `DevPeer`: invoke = simulate and commit; query = simulate only."""

    def __init__(self, peer: DevPeer, chaincode_name: str, *, creator: bytes = b"") -> None:
        self.peer = peer
        self.chaincode_name = chaincode_name
        self.creator = creator
        #: the last committed transaction (id and block number), for callers that report it
        self.last_tx_id: str | None = None
        self.last_block: int | None = None

    def invoke(
        self, function: Arg, args: Sequence[Arg], *, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        """Simulate and commit; the chaincode's payload, or `EndorsementFailure` (nothing committed)."""
        result = self.peer.invoke(
            self.chaincode_name, [function, *encode_args(args)], creator=self.creator, transient=transient
        )
        if not result.response.endorsed:
            raise EndorsementFailure(result.response.status, result.response.message)
        self.last_tx_id = result.tx_id
        self.last_block = result.block.number if result.block is not None else None
        return result.response.payload

    def query(
        self, function: Arg, args: Sequence[Arg], *, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        """Simulate only; the chaincode's payload, or `EndorsementFailure`."""
        result = self.peer.query(
            self.chaincode_name, [function, *encode_args(args)], creator=self.creator, transient=transient
        )
        if not result.response.endorsed:
            raise EndorsementFailure(result.response.status, result.response.message)
        return result.response.payload


def proxy_enclave(client: ProxyClient) -> ConfidentialEnclave:
    """The TA behind `client` as a `ConfidentialEnclave` (foc.wrapper.confidential.ProxyEnclave)."""
    from foc.wrapper.confidential import ProxyEnclave

    enclave: ConfidentialEnclave = ProxyEnclave(client)
    return enclave


class DevNetwork:
    """One dev ledger file and the chaincodes installed on it.

    Lifecycle: `open(...)` (opens or creates the SQLite file) -> `contract(name)` any number of
    times -> `close()` (closes the ledger; the proxy client belongs to the caller). Use as a
    context manager to always close.
    """

    def __init__(self, ledger: DevLedger, chaincodes: Mapping[str, Chaincode]) -> None:
        self.ledger = ledger
        self.peer = DevPeer(ledger, chaincodes)
        self.chaincodes = dict(chaincodes)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        proxy: ProxyClient | None = None,
        confidential: str | Sequence[str] = (),
        enclave: ConfidentialEnclave | None = None,
        home: Path | None = None,
        channel: str | None = None,
        allow_insecure_native: bool = False,
    ) -> DevNetwork:
        """Open the ledger at `path` with the registry, and the wrapper if a proxy is given.

        `confidential` names the confidential chaincodes to install; each forwards to `enclave`,
        by default the TA behind `proxy`. Definitions and enrolled devices come from `home`
        ($FOC_HOME). `allow_insecure_native` lets the registry accept the host-native build's
        evidence (NOT a TEE: development and tests only).
        """
        names = [confidential] if isinstance(confidential, str) else list(confidential)
        definitions = DefinitionStore(home)
        chaincodes: dict[str, Chaincode] = {
            REGISTRY_NAME: EnclaveRegistry(
                definitions, DeviceStore(home), allow_insecure_native=allow_insecure_native
            )
        }
        if proxy is not None:
            from foc.wrapper.plaintext import FocWrapper

            chaincodes[WRAPPER_NAME] = FocWrapper(client=proxy)
        if names:
            if enclave is None:
                if proxy is None:
                    raise UsageError("a confidential chaincode needs an enclave or a proxy client")
                enclave = proxy_enclave(proxy)
            for name in names:
                chaincodes[name] = ConfidentialChaincode(
                    name, enclave, definitions, registry_name=REGISTRY_NAME
                )
        return cls(DevLedger(path, channel=channel), chaincodes)

    @property
    def channel(self) -> str:
        """The ledger's channel id."""
        return self.ledger.channel

    def contract(self, name: str, *, creator: bytes = b"") -> DevLedgerContract:
        """A `Contract` for the installed chaincode `name`."""
        return DevLedgerContract(self.peer, name, creator=creator)

    def close(self) -> None:
        """Close the ledger. Idempotent."""
        self.ledger.close()

    def __enter__(self) -> DevNetwork:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
