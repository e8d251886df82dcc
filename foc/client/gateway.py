"""A Python client for the Fabric Gateway service (`gateway.Gateway`, peer >= 2.4, on the peer port).

Message flow (fabric-protos `gateway/gateway.proto`):

    evaluate:  SignedProposal --Evaluate--> peer.Response (result = its payload)
    submit:    SignedProposal --Endorse--> prepared Envelope (unsigned)
               sign Envelope.payload --Submit--> (ordered)
               signed CommitStatusRequest --CommitStatus--> TxValidationCode + block number

A proposal is the one the peer CLI builds: ChannelHeader{ENDORSER_TRANSACTION, channel, tx_id,
timestamp, extension=ChaincodeHeaderExtension}, SignatureHeader{creator, nonce},
tx_id = hex(sha256(nonce || creator)), payload ChaincodeProposalPayload{input =
ChaincodeInvocationSpec bytes, TransientMap}. The transient map never reaches the ledger: the
gateway drops it from the prepared transaction.

Errors are typed (`foc.errors`): a chaincode status >= 400 raises `EndorsementFailure` with the
chaincode's status and message (the gateway reports it as "chaincode response <status>,
<message>" in its error details); a non-VALID commit raises `TransactionInvalid`
(`TransactionMvccConflict` for MVCC_READ_CONFLICT); a request over the peer's gRPC message limit
(Fabric's default, checked before it is sent) or a RESOURCE_EXHAUSTED status raises `LimitExceeded`;
every other gRPC failure raises `GatewayError` (`GatewayUnavailable`, `GatewayTimeout`) with the
gateway's error details.

The channel reconnects within about a second of a peer restart and a call waits for it briefly
(`foc.protocol.transport`), so the first call after the peer is back succeeds.

Logs carry tx id prefixes, channel and chaincode names only: never arguments, transient data,
results or keys.

`GatewayContract` is the Fabric implementation of `foc.client.contract.Contract`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.peer import proposal_response_pb2, transaction_pb2
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2
from google.protobuf.message import DecodeError

from foc.client.identity import Identity
from foc.errors import (
    ConfigError,
    EndorsementFailure,
    GatewayError,
    GatewayTimeout,
    GatewayUnavailable,
    TransactionInvalid,
    TransactionMvccConflict,
)
from foc.fabric.protos import chaincode, common, proposal
from foc.protocol import transport
from foc.protocol.args import Arg, encode_arg, encode_args

log = logging.getLogger(__name__)

gateway: Any = gateway_pb2  # EndorseRequest, SubmitRequest, CommitStatusRequest, EvaluateRequest, ...
gateway_grpc: Any = gateway_pb2_grpc  # GatewayStub
transaction: Any = transaction_pb2  # Transaction, ChaincodeActionPayload, TxValidationCode
responses: Any = proposal_response_pb2  # ProposalResponsePayload, Response

DEFAULT_TIMEOUT_S = 30.0  # Evaluate, Endorse, Submit
DEFAULT_COMMIT_TIMEOUT_S = 60.0  # CommitStatus waits for the block
NONCE_BYTES = 24  # what the Fabric SDKs use
MAX_MESSAGE_BYTES = transport.FABRIC_MESSAGE_BYTES  # Fabric's default gRPC message limit (the peer's)
_DETAILS_KEY = "grpc-status-details-bin"
_CHAINCODE_RESPONSE = re.compile(r"chaincode response (\d+), (.*)", re.DOTALL)


# -- google.rpc.Status (the gateway's error details) without googleapis-common-protos -----------
def _build_rpc_status_class() -> Any:
    # A private pool: never clashes with a google/rpc/status.proto another package registers.
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(any_pb2.DESCRIPTOR.serialized_pb)
    file = descriptor_pb2.FileDescriptorProto(
        name="foc/client/google_rpc_status.proto",
        package="google.rpc",
        syntax="proto3",
        dependency=["google/protobuf/any.proto"],
    )
    status = file.message_type.add(name="Status")
    field = descriptor_pb2.FieldDescriptorProto
    status.field.add(name="code", number=1, type=field.TYPE_INT32, label=field.LABEL_OPTIONAL)
    status.field.add(name="message", number=2, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    status.field.add(
        name="details",
        number=3,
        type=field.TYPE_MESSAGE,
        label=field.LABEL_REPEATED,
        type_name=".google.protobuf.Any",
    )
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("google.rpc.Status"))


_RpcStatus: Any = _build_rpc_status_class()


def error_details(error: grpc.RpcError) -> tuple[tuple[str, str, str], ...]:
    """The gateway's `ErrorDetail`s (address, msp_id, message) attached to a failed call."""
    trailing = error.trailing_metadata() if isinstance(error, grpc.Call) else None
    for key, value in trailing or ():
        if key != _DETAILS_KEY or not isinstance(value, bytes):
            continue
        try:
            status = _RpcStatus.FromString(value)
        except DecodeError:
            return ()
        found = []
        for detail in status.details:
            if detail.type_url.rsplit("/", 1)[-1] != "gateway.ErrorDetail":
                continue
            try:
                parsed = gateway.ErrorDetail.FromString(detail.value)
            except DecodeError:
                continue
            found.append((parsed.address, parsed.msp_id, parsed.message))
        return tuple(found)
    return ()


def _chaincode_failure(message: str, details: Sequence[tuple[str, str, str]]) -> EndorsementFailure | None:
    for text in [d[2] for d in details] + [message]:
        match = _CHAINCODE_RESPONSE.search(text)
        if match:
            return EndorsementFailure(int(match.group(1)), match.group(2))
    return None


def _map_rpc_error(error: grpc.RpcError, call: str, endpoint: str) -> Exception:
    code = error.code() if isinstance(error, grpc.Call) else None
    message = (error.details() if isinstance(error, grpc.Call) else None) or str(error)
    details = error_details(error)
    name = code.name if code is not None else "UNKNOWN"
    limit = transport.limit_error(error, f"the gateway {call} call to {endpoint}")
    if limit is not None:
        return limit
    if call in ("Evaluate", "Endorse"):
        failure = _chaincode_failure(message, details)
        if failure is not None:
            return failure
    text = f"gateway {call} failed ({name}): {message}"
    if details:
        text += "; " + "; ".join(
            f"{msp or '?'} {address or '?'}: {detail}" for address, msp, detail in details
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        return GatewayUnavailable(
            text,
            grpc_code=name,
            details=details,
            hint=f"is the peer's gateway at {endpoint} up; do the TLS root cert and server name match?",
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return GatewayTimeout(text, grpc_code=name, details=details)
    return GatewayError(text, grpc_code=name, details=details)


# -- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Proposal:
    """A signed proposal ready for Evaluate or Endorse."""

    tx_id: str
    channel_id: str
    chaincode: str
    signed: Any  # protos.SignedProposal


@dataclass(frozen=True)
class PreparedTransaction:
    """An endorsed transaction: the gateway's unsigned envelope and the chaincode's result."""

    tx_id: str
    channel_id: str
    envelope: Any  # common.Envelope (payload set, signature empty)
    result: bytes


@dataclass(frozen=True)
class SubmitResult:
    """A committed transaction: its id, the chaincode's result, the validation code and block."""

    tx_id: str
    payload: bytes
    status: str  # TxValidationCode name, "VALID" here (anything else raised)
    block_number: int


def _result_of(envelope: Any, tx_id: str) -> bytes:
    """The chaincode's response payload inside a prepared envelope (and a check that it is ours)."""
    try:
        payload = common.Payload.FromString(envelope.payload)
        header = common.ChannelHeader.FromString(payload.header.channel_header)
        tx = transaction.Transaction.FromString(payload.data)
        action = transaction.ChaincodeActionPayload.FromString(tx.actions[0].payload)
        response_payload = responses.ProposalResponsePayload.FromString(
            action.action.proposal_response_payload
        )
        chaincode_action = proposal.ChaincodeAction.FromString(response_payload.extension)
    except (DecodeError, IndexError) as exc:
        raise GatewayError(
            "the gateway returned a prepared transaction that is not a valid envelope"
        ) from exc
    if header.tx_id != tx_id:
        raise GatewayError("the gateway returned a prepared transaction for another transaction id")
    return bytes(chaincode_action.response.payload)


def _read_pem(value: bytes | str | os.PathLike[str] | None, what: str) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    try:
        return Path(value).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {value}: {exc.strerror}") from exc


class GatewayClient:
    """Client of one peer's Fabric Gateway over one long-lived gRPC channel.

    Lifecycle: construct (the channel connects lazily) -> `evaluate` / `submit` from any number of
    threads -> `close()`. Use as a context manager to always close.

    `tls_root_cert` (PEM bytes or a path) is the CA of the peer's TLS certificate; without it the
    channel is plaintext. `server_name` overrides the name checked in the peer's certificate
    (e.g. peer0.org1.example.com when dialing localhost:7051). `tls_client_cert`/`tls_client_key`
    are for peers that require mutual TLS. `timeout` bounds Evaluate/Endorse/Submit,
    `commit_timeout` the wait for the commit.
    """

    def __init__(
        self,
        endpoint: str,
        identity: Identity,
        *,
        tls_root_cert: bytes | str | os.PathLike[str] | None = None,
        server_name: str | None = None,
        tls_client_cert: bytes | str | os.PathLike[str] | None = None,
        tls_client_key: bytes | str | os.PathLike[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        commit_timeout: float = DEFAULT_COMMIT_TIMEOUT_S,
    ) -> None:
        if not endpoint or ":" not in endpoint:
            raise ConfigError(f"the gateway endpoint must be host:port, not {endpoint!r}")
        self.endpoint = endpoint
        self.identity = identity
        self.timeout = timeout
        self.commit_timeout = commit_timeout
        options = transport.channel_options(
            MAX_MESSAGE_BYTES, [("grpc.keepalive_time_ms", 60_000), ("grpc.keepalive_timeout_ms", 20_000)]
        )
        root = _read_pem(tls_root_cert, "TLS root certificate")
        client_cert = _read_pem(tls_client_cert, "TLS client certificate")
        client_key = _read_pem(tls_client_key, "TLS client key")
        if (client_cert is None) != (client_key is None):
            raise ConfigError("mutual TLS needs both the client certificate and its key")
        if root is None and (client_cert is not None or server_name is not None):
            raise ConfigError("server_name and a TLS client certificate need tls_root_cert (TLS)")
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
            options.append(("grpc.default_authority", server_name))
        if root is not None:
            credentials = grpc.ssl_channel_credentials(root, client_key, client_cert)
            self._channel = grpc.secure_channel(endpoint, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(endpoint, options=options)
        self._stub = gateway_grpc.GatewayStub(self._channel)
        self._readiness = transport.ChannelReadiness(self._probe)
        self._closed = threading.Event()
        log.debug("gateway client for %s (tls=%s)", endpoint, root is not None)

    def close(self) -> None:
        """Close the channel. Idempotent."""
        if not self._closed.is_set():
            self._closed.set()
            self._channel.close()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- building blocks ---------------------------------------------------------------------
    def propose(
        self,
        channel_id: str,
        chaincode_name: str,
        function: Arg,
        args: Sequence[bytes],
        transient: Mapping[str, bytes] | None = None,
    ) -> Proposal:
        """Build and sign a proposal to run `function(args)` of `chaincode_name` on `channel_id`."""
        if not channel_id or not chaincode_name or not function:
            raise ConfigError("a proposal needs a channel, a chaincode name and a function name")
        creator = self.identity.serialized()
        nonce = os.urandom(NONCE_BYTES)
        tx_id = hashlib.sha256(nonce + creator).hexdigest()
        chaincode_id = chaincode.ChaincodeID(name=chaincode_name)
        timestamp = timestamp_pb2.Timestamp()
        timestamp.GetCurrentTime()
        channel_header = common.ChannelHeader(
            type=common.HeaderType.ENDORSER_TRANSACTION,
            channel_id=channel_id,
            tx_id=tx_id,
            timestamp=timestamp,
            extension=proposal.ChaincodeHeaderExtension(chaincode_id=chaincode_id).SerializeToString(),
        )
        header = common.Header(
            channel_header=channel_header.SerializeToString(),
            signature_header=common.SignatureHeader(creator=creator, nonce=nonce).SerializeToString(),
        )
        invocation = chaincode.ChaincodeInvocationSpec(
            chaincode_spec=chaincode.ChaincodeSpec(
                chaincode_id=chaincode_id,
                input=chaincode.ChaincodeInput(
                    args=[encode_arg(function, "function name"), *[bytes(a) for a in args]]
                ),
            )
        )
        payload = proposal.ChaincodeProposalPayload(
            input=invocation.SerializeToString(), TransientMap=dict(transient or {})
        )
        proposal_bytes = proposal.Proposal(
            header=header.SerializeToString(), payload=payload.SerializeToString()
        ).SerializeToString()
        signed = proposal.SignedProposal(
            proposal_bytes=proposal_bytes, signature=self.identity.sign(proposal_bytes)
        )
        return Proposal(tx_id, channel_id, chaincode_name, signed)

    def _probe(self, timeout: float) -> object:
        """After a lost connection: an empty EvaluateRequest, held by gRPC until the channel is
        connected again; the gateway refuses it (INVALID_ARGUMENT) without running anything."""
        return self._stub.Evaluate(gateway.EvaluateRequest(), timeout=timeout, wait_for_ready=True)

    def _call(self, name: str, request: Any, timeout: float) -> Any:
        if self._closed.is_set():
            raise GatewayError("the gateway client is closed")
        transport.check_message(request, MAX_MESSAGE_BYTES, f"the gateway {name} request")
        deadline = time.monotonic() + timeout
        self._readiness.wait(deadline)
        try:
            return getattr(self._stub, name)(request, timeout=max(deadline - time.monotonic(), 0.0))
        except grpc.RpcError as exc:
            if transport.is_unavailable(exc):
                self._readiness.lost()  # the next calls wait briefly for the peer to be back
            raise _map_rpc_error(exc, name, self.endpoint) from None

    def evaluate_proposal(
        self,
        prepared: Proposal,
        *,
        target_organizations: Sequence[str] = (),
        timeout: float | None = None,
    ) -> bytes:
        """Evaluate a signed proposal on one peer (of `target_organizations` if given: the
        gateway's EvaluateRequest field); the chaincode's payload."""
        request = gateway.EvaluateRequest(
            transaction_id=prepared.tx_id,
            channel_id=prepared.channel_id,
            proposed_transaction=prepared.signed,
            target_organizations=list(target_organizations),
        )
        log.debug("evaluate tx %s on %s/%s", prepared.tx_id[:12], prepared.channel_id, prepared.chaincode)
        reply = self._call("Evaluate", request, self.timeout if timeout is None else timeout)
        result = reply.result
        if result.status >= 400:  # not what a gateway does, but never return a failure as data
            raise EndorsementFailure(result.status, result.message)
        return bytes(result.payload)

    def endorse(
        self,
        prepared: Proposal,
        *,
        endorsing_organizations: Sequence[str] = (),
        timeout: float | None = None,
    ) -> PreparedTransaction:
        """Collect endorsements (the gateway picks endorsers unless organizations are given)."""
        request = gateway.EndorseRequest(
            transaction_id=prepared.tx_id,
            channel_id=prepared.channel_id,
            proposed_transaction=prepared.signed,
            endorsing_organizations=list(endorsing_organizations),
        )
        log.debug("endorse tx %s on %s/%s", prepared.tx_id[:12], prepared.channel_id, prepared.chaincode)
        reply = self._call("Endorse", request, self.timeout if timeout is None else timeout)
        envelope = reply.prepared_transaction
        return PreparedTransaction(
            prepared.tx_id, prepared.channel_id, envelope, _result_of(envelope, prepared.tx_id)
        )

    def submit_prepared(self, prepared: PreparedTransaction, *, timeout: float | None = None) -> SubmitResult:
        """Sign the prepared envelope, Submit it, wait for its commit status; raise unless VALID."""
        envelope = common.Envelope(
            payload=prepared.envelope.payload, signature=self.identity.sign(prepared.envelope.payload)
        )
        request = gateway.SubmitRequest(
            transaction_id=prepared.tx_id, channel_id=prepared.channel_id, prepared_transaction=envelope
        )
        self._call("Submit", request, self.timeout if timeout is None else timeout)
        log.debug("submitted tx %s on %s", prepared.tx_id[:12], prepared.channel_id)
        code, block = self.commit_status(prepared.channel_id, prepared.tx_id)
        if code != "VALID":
            error = TransactionMvccConflict if code == "MVCC_READ_CONFLICT" else TransactionInvalid
            raise error(prepared.tx_id, code, block)
        return SubmitResult(prepared.tx_id, prepared.result, code, block)

    def commit_status(self, channel_id: str, tx_id: str, *, timeout: float | None = None) -> tuple[str, int]:
        """Wait until `tx_id` commits: (TxValidationCode name, block number). Signed request."""
        request = gateway.CommitStatusRequest(
            transaction_id=tx_id, channel_id=channel_id, identity=self.identity.serialized()
        ).SerializeToString()
        signed = gateway.SignedCommitStatusRequest(request=request, signature=self.identity.sign(request))
        reply = self._call("CommitStatus", signed, self.commit_timeout if timeout is None else timeout)
        try:
            code = str(transaction.TxValidationCode.Name(reply.result))
        except ValueError:
            code = f"UNKNOWN_CODE_{reply.result}"
        return code, int(reply.block_number)

    # -- the two calls most code needs -------------------------------------------------------
    def evaluate(
        self,
        channel_id: str,
        chaincode_name: str,
        function: Arg,
        args: Sequence[bytes],
        transient: Mapping[str, bytes] | None = None,
        *,
        target_organizations: Sequence[str] = (),
    ) -> bytes:
        """Run a query on one peer (of `target_organizations` if given; nothing is ordered or
        committed); the chaincode's payload."""
        return self.evaluate_proposal(
            self.propose(channel_id, chaincode_name, function, args, transient),
            target_organizations=target_organizations,
        )

    def submit(
        self,
        channel_id: str,
        chaincode_name: str,
        function: Arg,
        args: Sequence[bytes],
        transient: Mapping[str, bytes] | None = None,
        *,
        endorsing_organizations: Sequence[str] = (),
    ) -> SubmitResult:
        """Endorse, sign, Submit and wait for the commit. Raises unless the transaction is VALID."""
        prepared = self.propose(channel_id, chaincode_name, function, args, transient)
        return self.submit_prepared(self.endorse(prepared, endorsing_organizations=endorsing_organizations))


class GatewayContract:
    """`Contract` over a `GatewayClient`: invoke = submit, query = evaluate.

    `organizations` pins the peers: queries are evaluated on a peer of those organisations (how a
    confidential client reaches one organisation's enclave) and transactions endorsed by them;
    empty, the gateway chooses.
    """

    def __init__(
        self,
        client: GatewayClient,
        channel_id: str,
        chaincode_name: str,
        *,
        organizations: Sequence[str] = (),
    ) -> None:
        self.client = client
        self.channel_id = channel_id
        self.chaincode_name = chaincode_name
        self.organizations = tuple(organizations)
        #: the last committed transaction (id and block number), for callers that report it
        self.last_tx_id: str | None = None
        self.last_block: int | None = None

    @property
    def creator(self) -> bytes:
        """The creator of this contract's transactions: the client identity's msp.SerializedIdentity."""
        return self.client.identity.serialized()

    def invoke(
        self, function: Arg, args: Sequence[Arg], *, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        """Endorse, submit and wait for commit; the chaincode's payload."""
        result = self.client.submit(
            self.channel_id,
            self.chaincode_name,
            function,
            encode_args(args),
            transient,
            endorsing_organizations=self.organizations,
        )
        self.last_tx_id = result.tx_id
        self.last_block = result.block_number
        return result.payload

    def query(
        self, function: Arg, args: Sequence[Arg], *, transient: Mapping[str, bytes] | None = None
    ) -> bytes:
        """Evaluate on one peer; the chaincode's payload."""
        return self.client.evaluate(
            self.channel_id,
            self.chaincode_name,
            function,
            encode_args(args),
            transient,
            target_organizations=self.organizations,
        )
