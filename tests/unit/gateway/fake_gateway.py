"""A fake Fabric Gateway (`gateway.Gateway`) in front of real chaincode-as-a-service servers.

One gRPC server on 127.0.0.1 plays gateway, endorsing peer, orderer and committing peer for one
channel, and hosts several chaincodes behind that one endpoint, as a real peer's gateway does
(`chaincodes={"coffee": (address, package_id), "ercc": ..., "foc": ...}`): each is a `FakePeer`
stream to its own CaaS server with its own namespace (world state). INVOKE_CHAINCODE from one
to another (the confidential chaincode's `__endorse` asking `ercc`) runs the callee on its own
stream over its committed state and hands back the callee's reply, COMPLETED or ERROR, as the
peer does for a same-channel call; the callee's reads are not MVCC-checked and its writes are
dropped (FOC's callees only read).

* **Evaluate / Endorse**: unpack the SignedProposal (INVALID_ARGUMENT if it does not parse),
  check it like the endorser's preProcess (creator MSP known, ECDSA P-256 signature valid *and
  low-S*, tx_id = hex(sha256(nonce || creator)), channel and chaincode served), then run it on
  the chaincode through `FakePeer` (tests/unit/fabric/fake_peer.py), which speaks the peer side of
  `protos.Chaincode/Connect` to a `foc.fabric.ChaincodeServer`. Reads are recorded with their
  versions, writes buffered.
* Failures are reported the way Fabric's gateway does (internal/pkg/gateway, responseStatus): a
  chaincode status >= 400 is UNKNOWN (Evaluate) / ABORTED (Endorse) with an `ErrorDetail`
  "chaincode response <status>, <message>"; a peer-side failure (bad signature, chaincode ERROR)
  is ABORTED with the peer's text in the detail. Details travel as google.rpc.Status in the
  `grpc-status-details-bin` trailer, encoded here by hand (independently of the client's decoder).
* **Endorse** returns the prepared Envelope the way the gateway assembles it: Payload{proposal
  header, Transaction{TransactionAction{signature header, ChaincodeActionPayload{proposal payload
  without transient data, ChaincodeEndorsedAction{ProposalResponsePayload{ChaincodeAction{
  TxReadWriteSet, Response}}, Endorsement by this fake peer}}}}}.
* **Submit** ("orderer"): INVALID_ARGUMENT if unsigned; ABORTED (FORBIDDEN) if the creator's
  signature over the payload is wrong; otherwise a block is cut and validated at once, like a
  committer: DUPLICATE_TXID, ENDORSEMENT_POLICY_FAILURE (endorsement not by this peer, or not
  over this payload), MVCC_READ_CONFLICT (a read version changed), else VALID and the writes are
  committed with version (block, 0).
* **CommitStatus**: PERMISSION_DENIED unless the request is signed by its `identity`; waits for
  the transaction's block, then returns its validation code and block number.

* **A misbehaving gateway** (`rewrite_evaluate`, `rewrite_endorse`): tests of the checks FOC's
  client makes of the gateway's answers replace an honest answer with a wrong one.

The refusals above are the fake's own checks, made the way the peer makes them, so that FOC's
proposals and envelopes meet an independent verifier. A test that triggers one checks FOC's
side of it: that what FOC signs is accepted (the control) and that the refusal reaches the
caller as a typed error with the peer's detail.

Not modelled: lifecycle (`peer lifecycle chaincode ...`: the chaincodes are "committed" by
naming them), the ordering service and Raft, discovery and endorsement by several peers (other
organisations' peers answer Evaluate only), endorsement policies, range-query phantom checks,
chaincode events, private data. Logs never carry arguments or values.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2, proposal_response_pb2, transaction_pb2
from google.protobuf.message import DecodeError

sys.path.insert(0, str(Path(__file__).parent.parent / "fabric"))
from fake_peer import FakePeer  # noqa: E402

from foc.client.identity import Identity  # noqa: E402
from foc.fabric.tls import ServerTls  # noqa: E402
from foc.protocol import transport  # noqa: E402

_HALF_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551 >> 1
Code = transaction_pb2.TxValidationCode
CHANNEL = "mychannel"  # what the tests use
CHAINCODE = "foc"
PACKAGE_ID = "foc_1.0:" + "ab" * 32


class Refused(Exception):
    """A check failed: `code` is the gRPC status, `message` the top-level text, `detail` the peer's."""

    def __init__(self, code: grpc.StatusCode, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail


# -- google.rpc.Status written by hand (protobuf wire format) ---------------------------------
def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def rpc_status_bytes(
    code: grpc.StatusCode, message: str, details: Sequence[gateway_pb2.ErrorDetail]
) -> bytes:
    """google.rpc.Status{code, message, details=[Any(gateway.ErrorDetail)]} serialized."""
    out = _varint(1 << 3 | 0) + _varint(code.value[0]) + _field(2, message.encode())
    for detail in details:
        any_bytes = _field(1, b"type.googleapis.com/gateway.ErrorDetail") + _field(
            2, detail.SerializeToString()
        )
        out += _field(3, any_bytes)
    return out


def verify_fabric_signature(
    creator: bytes, data: bytes, signature: bytes, msp_ids: Sequence[str]
) -> str | None:
    """None if `signature` is a valid low-S ECDSA P-256/SHA-256 signature by `creator`; else why not."""
    try:
        identity = identities_pb2.SerializedIdentity.FromString(creator)
    except DecodeError:
        return "creator is malformed"
    if identity.mspid not in msp_ids:
        return f"creator org unknown: {identity.mspid!r}"
    try:
        public_key = x509.load_pem_x509_certificate(identity.id_bytes).public_key()
        _, s = decode_dss_signature(signature)
    except ValueError:
        return "creator certificate or signature is malformed"
    if s > _HALF_ORDER:
        return "invalid S: the signature is not in low-S form"
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    try:
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "the creator's signature is not valid"
    return None


@dataclass
class Unpacked:
    """What the endorser takes out of a SignedProposal."""

    header: Any
    channel_header: Any
    signature_header: Any
    payload: Any  # ChaincodeProposalPayload
    chaincode_name: str
    args: list[bytes]


def unpack(signed: proposal_pb2.SignedProposal) -> Unpacked:
    """Decode a SignedProposal; `Refused(INVALID_ARGUMENT)` if it does not parse."""
    try:
        prop = proposal_pb2.Proposal.FromString(signed.proposal_bytes)
        header = common_pb2.Header.FromString(prop.header)
        channel_header = common_pb2.ChannelHeader.FromString(header.channel_header)
        signature_header = common_pb2.SignatureHeader.FromString(header.signature_header)
        payload = proposal_pb2.ChaincodeProposalPayload.FromString(prop.payload)
        spec = chaincode_pb2.ChaincodeInvocationSpec.FromString(payload.input)
    except DecodeError as exc:
        raise Refused(
            grpc.StatusCode.INVALID_ARGUMENT, f"failed to unpack transaction proposal: {exc}"
        ) from exc
    if not signed.proposal_bytes or not channel_header.channel_id:
        raise Refused(
            grpc.StatusCode.INVALID_ARGUMENT, "failed to unpack transaction proposal: no channel id"
        )
    return Unpacked(
        header,
        channel_header,
        signature_header,
        payload,
        spec.chaincode_spec.chaincode_id.name,
        [bytes(a) for a in spec.chaincode_spec.input.args],
    )


@dataclass
class Endorsed:
    """One simulation: the chaincode's response and its read/write set."""

    response: proposal_response_pb2.Response
    reads: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    writes: dict[str, bytes | None] = field(default_factory=dict)
    from_chaincode: bool = True  # False: the peer generated the failure (no payload)


class FakeGateway(gateway_pb2_grpc.GatewayServicer):
    """The fake. Lifecycle: construct -> `start()` (connects to the chaincode, binds) -> `stop()`."""

    def __init__(
        self,
        chaincode_address: str | None = None,
        package_id: str | None = None,
        *,
        channel_id: str = CHANNEL,
        chaincode_name: str = CHAINCODE,
        chaincodes: Mapping[str, tuple[str | None, str]] | None = None,
        msp_ids: Sequence[str] = ("Org1MSP",),
        tls: ServerTls | None = None,
        execute_timeout: float = 20.0,
        organisations: Mapping[str, Mapping[str, tuple[str, str]]] | None = None,
        launch: Callable[[str, str], None] | None = None,
        listener_tls: ServerTls | None = None,
    ) -> None:
        """One chaincode (`chaincode_address`, `package_id`, `chaincode_name`) or several
        (`chaincodes`: name -> (CaaS server address, package id)); the first is `peer`.

        `organisations` adds other organisations' peers (MSP id -> {chaincode name -> (CaaS
        address, package id)}): each runs its own chaincode server (its own `foc serve` and
        device) over the channel's one world state, and an Evaluate whose
        `target_organizations` names that organisation runs there. Endorse and the committer stay
        on the first organisation's peer (no endorsement by several peers is modelled).

        A chaincode whose address is None is peer-launched: at `start()` its fake peer listens on a
        chaincode listener (`listener_tls`: the peer's TLS there) and `launch(name, listener address)`
        starts the chaincode, which dials in (an external builder's bin/run)."""
        if chaincodes is None:
            if chaincode_address is None or package_id is None:
                raise ValueError("give chaincode_address and package_id, or chaincodes")
            chaincodes = {chaincode_name: (chaincode_address, package_id)}
        if not chaincodes:
            raise ValueError("a gateway needs at least one chaincode")
        self.channel_id = channel_id
        self.msp_ids = tuple(msp_ids)
        self.tls = tls
        self.execute_timeout = execute_timeout
        self.launched = {name for name, (address, _) in chaincodes.items() if address is None}
        if self.launched and launch is None:
            raise ValueError("peer-launched chaincodes need launch()")
        self.launch = launch
        self.listener_tls = listener_tls
        self.peers: dict[str, FakePeer] = {
            name: FakePeer(address or "", package, auto_commit=False, namespace=name)
            for name, (address, package) in chaincodes.items()
        }
        for name, peer in self.peers.items():
            for other in self.peers:
                if other != name:
                    peer.chaincodes[other] = self._called_chaincode(other)
        self.org_peers: dict[str, dict[str, FakePeer]] = {}
        for msp_id, served in (organisations or {}).items():
            self.org_peers[msp_id] = {}
            for name, (address, package) in served.items():
                peer = FakePeer(address, package, auto_commit=False, namespace=name, msp_id=msp_id)
                peer.state, peer.versions = self.peers[name].state, self.peers[name].versions  # one ledger
                peer.chaincodes = dict(self.peers[name].chaincodes)
                self.org_peers[msp_id][name] = peer
        self.chaincode_name = next(iter(self.peers))
        self.peer = self.peers[self.chaincode_name]  # the first chaincode's peer (single-chaincode tests)
        self.peer_identity = Identity.generate_for_tests(self.msp_ids[0], "peer0")
        self.peer_address = "peer0.fake:7051"
        # What tests assert on:
        self.calls: list[str] = []
        self.refusals: list[str] = []  # the peer/orderer-side reason of every refusal
        self.blocks: list[tuple[str, str]] = []  # (tx_id, validation code) per block, from block 1
        self.statuses: dict[str, tuple[int, int]] = {}  # tx_id -> (TxValidationCode, block)
        self.chaincode_calls: list[tuple[str, str]] = []  # (callee, function) of INVOKE_CHAINCODE
        # A hostile or broken gateway, for tests of FOC's own checks of the answers: each rewrites
        # what Evaluate / Endorse would have returned (None: the honest answer).
        self.rewrite_evaluate: Callable[[Any], Any] | None = None  # EvaluateResponse -> same
        self.rewrite_endorse: Callable[[Any], Any] | None = None  # prepared Envelope -> same
        self._commit = threading.Condition()
        self._server: grpc.Server | None = None
        self.port = 0

    def _called_chaincode(self, name: str) -> Any:
        """INVOKE_CHAINCODE target: run `name` on its own stream and hand back the callee's reply,
        COMPLETED or ERROR, as Fabric's peer does (the caller's shim sees the callee's ERROR)."""

        def call(args: list[bytes]) -> Any:
            function = args[0].decode("utf-8", errors="replace") if args else ""
            self.chaincode_calls.append((name, function))
            return self.peers[name].start(*args, channel_id=self.channel_id).wait(self.execute_timeout)

        return call

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Connect to every chaincode server, or launch a peer-launched one and wait for it to dial in
        (handshake), and start serving the Gateway."""
        for name, peer in self.peers.items():
            if name in self.launched and self.launch is not None:
                self.launch(name, peer.listen(tls=self.listener_tls))
                peer.connect(timeout=90)
            else:
                peer.connect()
        for served in self.org_peers.values():
            for peer in served.values():
                peer.connect()
        self._server = transport.server(
            16, max_message_bytes=transport.FABRIC_MESSAGE_BYTES, thread_name_prefix="fake-gateway"
        )
        gateway_pb2_grpc.add_GatewayServicer_to_server(self, self._server)
        credentials = self.tls.credentials() if self.tls is not None else None
        self.port = transport.bind(self._server, f"127.0.0.1:{self.port}", credentials)
        self._server.start()

    def stop(self, *, restart: bool = False) -> None:
        """Stop serving and disconnect from the chaincode; with `restart`, `start()` may follow
        (the same port, and new chaincode streams: like a peer restart)."""
        if self._server is not None:
            self._server.stop(0.5).wait()
            self._server = None
        for peer in self._all_peers():
            if restart:
                peer.disconnect()
            else:
                peer.close()

    def __enter__(self) -> FakeGateway:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _all_peers(self) -> list[FakePeer]:
        return [*self.peers.values(), *(p for served in self.org_peers.values() for p in served.values())]

    @property
    def address(self) -> str:
        """host:port of the gateway."""
        return f"127.0.0.1:{self.port}"

    def executions(self) -> int:
        """How many transactions the chaincode ran to the end (COMPLETED or ERROR received)."""
        done = (FakePeer.Msg.COMPLETED, FakePeer.Msg.ERROR)
        return sum(1 for peer in self.peers.values() for m in list(peer.received) if m.type in done)

    # -- helpers -----------------------------------------------------------------------------
    def _abort(self, context: grpc.ServicerContext, refused: Refused) -> None:
        details = []
        if refused.detail is not None:
            self.refusals.append(refused.detail)
            details.append(
                gateway_pb2.ErrorDetail(
                    address=self.peer_address, msp_id=self.msp_ids[0], message=refused.detail
                )
            )
        else:
            self.refusals.append(refused.message)
        context.set_trailing_metadata(
            (("grpc-status-details-bin", rpc_status_bytes(refused.code, refused.message, details)),)
        )
        context.abort(refused.code, refused.message)

    def _preprocess(self, signed: proposal_pb2.SignedProposal, failure: str) -> Unpacked:
        """The endorser's checks; a failure is the peer's 500 without payload, i.e. ABORTED."""
        unpacked = unpack(signed)
        creator = unpacked.signature_header.creator
        expected = hashlib.sha256(unpacked.signature_header.nonce + creator).hexdigest()
        reason = None
        if unpacked.channel_header.type != common_pb2.HeaderType.ENDORSER_TRANSACTION:
            reason = f"invalid header type {unpacked.channel_header.type}"
        elif unpacked.channel_header.tx_id != expected:
            reason = f"invalid txID. got [{unpacked.channel_header.tx_id}], expected [{expected}]"
        else:
            why = verify_fabric_signature(creator, signed.proposal_bytes, signed.signature, self.msp_ids)
            if why is not None:
                reason = f"error validating proposal: access denied: {why}"
            elif unpacked.channel_header.channel_id != self.channel_id:
                reason = f"channel '{unpacked.channel_header.channel_id}' not found"
            elif unpacked.chaincode_name not in self.peers:
                reason = f"make sure the chaincode {unpacked.chaincode_name} has been successfully defined"
        if reason is not None:
            raise Refused(grpc.StatusCode.ABORTED, failure, reason)
        return unpacked

    def _simulate(
        self, signed: proposal_pb2.SignedProposal, unpacked: Unpacked, organisations: Sequence[str] = ()
    ) -> Endorsed:
        peer = self.peers[unpacked.chaincode_name]
        for msp_id in organisations:  # the first named organisation that serves the chaincode
            if unpacked.chaincode_name in self.org_peers.get(msp_id, {}):
                peer = self.org_peers[msp_id][unpacked.chaincode_name]
                break
        tx = peer.start(
            *unpacked.args,
            channel_id=unpacked.channel_header.channel_id,
            tx_id=unpacked.channel_header.tx_id,
            proposal=signed,
        )
        reply = tx.wait(self.execute_timeout)
        if reply.type == FakePeer.Msg.ERROR:
            text = reply.payload.decode("utf-8", errors="replace")
            return Endorsed(
                proposal_response_pb2.Response(
                    status=500, message=f"transaction returned with failure: {text}"
                ),
                from_chaincode=False,
            )
        response = proposal_response_pb2.Response.FromString(reply.payload)
        return Endorsed(response, dict(tx.reads), dict(tx.writes))

    # -- gateway.Gateway ---------------------------------------------------------------------
    def Evaluate(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        self.calls.append("Evaluate")
        try:
            signed = request.proposed_transaction
            unpacked = self._preprocess(
                signed, "failed to evaluate transaction, see attached details for more info"
            )
            result = self._simulate(signed, unpacked, list(request.target_organizations))
            status = result.response.status
            if status < 200 or status >= 400:
                if not result.from_chaincode:
                    raise Refused(
                        grpc.StatusCode.ABORTED,
                        "failed to evaluate transaction, see attached details for more info",
                        result.response.message,
                    )
                detail = f"chaincode response {status}, {result.response.message}"
                raise Refused(
                    grpc.StatusCode.UNKNOWN, f"evaluate call to endorser returned error: {detail}", detail
                )
        except Refused as refused:
            self._abort(context, refused)
        answer = gateway_pb2.EvaluateResponse(result=result.response)
        return self.rewrite_evaluate(answer) if self.rewrite_evaluate else answer

    def Endorse(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        self.calls.append("Endorse")
        failure = "failed to endorse transaction, see attached details for more info"
        try:
            signed = request.proposed_transaction
            if not signed.proposal_bytes:
                raise Refused(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "the proposed transaction must contain a signed proposal",
                )
            unpacked = self._preprocess(signed, failure)
            result = self._simulate(signed, unpacked)
            status = result.response.status
            if status < 200 or status >= 400:
                detail = (
                    f"chaincode response {status}, {result.response.message}"
                    if result.from_chaincode
                    else result.response.message
                )
                raise Refused(grpc.StatusCode.ABORTED, failure, detail)
        except Refused as refused:
            self._abort(context, refused)
        prepared = self._prepare(signed, unpacked, result)
        if self.rewrite_endorse is not None:
            prepared = self.rewrite_endorse(prepared)
        return gateway_pb2.EndorseResponse(prepared_transaction=prepared)

    def _prepare(self, signed: Any, unpacked: Unpacked, result: Endorsed) -> common_pb2.Envelope:
        kv = kv_rwset_pb2.KVRWSet(
            reads=[
                kv_rwset_pb2.KVRead(
                    key=key,
                    version=None
                    if version is None
                    else kv_rwset_pb2.Version(block_num=version[0], tx_num=version[1]),
                )
                for key, version in result.reads.items()
            ],
            writes=[
                kv_rwset_pb2.KVWrite(key=key, is_delete=value is None, value=value or b"")
                for key, value in result.writes.items()
            ],
        )
        rwset = rwset_pb2.TxReadWriteSet(
            data_model=rwset_pb2.TxReadWriteSet.KV,
            ns_rwset=[
                rwset_pb2.NsReadWriteSet(namespace=unpacked.chaincode_name, rwset=kv.SerializeToString())
            ],
        )
        without_transient = proposal_pb2.ChaincodeProposalPayload(
            input=unpacked.payload.input
        ).SerializeToString()
        action = proposal_pb2.ChaincodeAction(
            results=rwset.SerializeToString(),
            response=result.response,
            chaincode_id=chaincode_pb2.ChaincodeID(name=unpacked.chaincode_name, version="1.0"),
        )
        prp = proposal_response_pb2.ProposalResponsePayload(
            proposal_hash=hashlib.sha256(unpacked.header.SerializeToString() + without_transient).digest(),
            extension=action.SerializeToString(),
        ).SerializeToString()
        endorser = self.peer_identity.serialized()
        endorsement = proposal_response_pb2.Endorsement(
            endorser=endorser, signature=self.peer_identity.sign(prp + endorser)
        )
        action_payload = transaction_pb2.ChaincodeActionPayload(
            chaincode_proposal_payload=without_transient,
            action=transaction_pb2.ChaincodeEndorsedAction(
                proposal_response_payload=prp, endorsements=[endorsement]
            ),
        )
        tx = transaction_pb2.Transaction(
            actions=[
                transaction_pb2.TransactionAction(
                    header=unpacked.header.signature_header, payload=action_payload.SerializeToString()
                )
            ]
        )
        payload = common_pb2.Payload(header=unpacked.header, data=tx.SerializeToString())
        return common_pb2.Envelope(payload=payload.SerializeToString())  # unsigned: the client signs

    def Submit(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        self.calls.append("Submit")
        try:
            envelope = request.prepared_transaction
            if not envelope.signature:
                raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "prepared transaction must be signed")
            try:
                payload = common_pb2.Payload.FromString(envelope.payload)
                channel_header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
                signature_header = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
                tx = transaction_pb2.Transaction.FromString(payload.data)
            except DecodeError as exc:
                raise Refused(
                    grpc.StatusCode.ABORTED, "received unsuccessful response from orderer: status=BAD_REQUEST"
                ) from exc
            why = verify_fabric_signature(
                signature_header.creator, envelope.payload, envelope.signature, self.msp_ids
            )
            if why is not None:
                raise Refused(
                    grpc.StatusCode.ABORTED,
                    f"received unsuccessful response from orderer: status=FORBIDDEN, info={why}",
                )
        except Refused as refused:
            self._abort(context, refused)
        self._commit_block(channel_header.tx_id, tx)
        return gateway_pb2.SubmitResponse()

    def _validate(self, tx_id: str, tx: Any) -> tuple[int, dict[str, dict[str, bytes | None]]]:
        if tx_id in self.statuses:
            return Code.DUPLICATE_TXID, {}
        try:
            action = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
            prp = action.action.proposal_response_payload
            endorsements = list(action.action.endorsements)
            chaincode_action = proposal_pb2.ChaincodeAction.FromString(
                proposal_response_pb2.ProposalResponsePayload.FromString(prp).extension
            )
            rwset = rwset_pb2.TxReadWriteSet.FromString(chaincode_action.results)
        except (DecodeError, IndexError):
            return Code.BAD_PAYLOAD, {}
        ours = self.peer_identity.serialized()
        if not endorsements or any(
            e.endorser != ours
            or verify_fabric_signature(e.endorser, prp + e.endorser, e.signature, self.msp_ids)
            for e in endorsements
        ):
            return Code.ENDORSEMENT_POLICY_FAILURE, {}
        writes: dict[str, dict[str, bytes | None]] = {}
        for ns in rwset.ns_rwset:
            peer = self.peers.get(ns.namespace)
            if peer is None:
                return Code.INVALID_CHAINCODE, {}
            kv = kv_rwset_pb2.KVRWSet.FromString(ns.rwset)
            for read in kv.reads:
                read_version = (
                    (read.version.block_num, read.version.tx_num) if read.HasField("version") else None
                )
                if peer.version_of(read.key) != read_version:
                    return Code.MVCC_READ_CONFLICT, {}
            for write in kv.writes:
                writes.setdefault(ns.namespace, {})[write.key] = (
                    None if write.is_delete else bytes(write.value)
                )
        return Code.VALID, writes

    def _commit_block(self, tx_id: str, tx: Any) -> None:
        with self._commit:
            block = len(self.blocks) + 1
            code, writes = self._validate(tx_id, tx)
            if code == Code.VALID:
                for namespace, namespace_writes in writes.items():
                    self.peers[namespace].commit_writes(namespace_writes, (block, 0))
            self.blocks.append((tx_id, Code.Name(code)))
            self.statuses.setdefault(tx_id, (code, block))
            self._commit.notify_all()

    def CommitStatus(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        self.calls.append("CommitStatus")
        try:
            try:
                inner = gateway_pb2.CommitStatusRequest.FromString(request.request)
            except DecodeError as exc:
                raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "invalid status request") from exc
            why = verify_fabric_signature(inner.identity, request.request, request.signature, self.msp_ids)
            if why is not None:
                raise Refused(grpc.StatusCode.PERMISSION_DENIED, f"access denied: {why}")
            deadline = time.monotonic() + (context.time_remaining() or 30.0)
            with self._commit:
                while inner.transaction_id not in self.statuses:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise Refused(grpc.StatusCode.DEADLINE_EXCEEDED, "transaction not committed in time")
                    self._commit.wait(left)
                code, block = self.statuses[inner.transaction_id]
        except Refused as refused:
            self._abort(context, refused)
        return gateway_pb2.CommitStatusResponse(result=code, block_number=block)
