"""What a transaction knows about its proposal: creator, transient data, time, binding.

The peer sends the client's SignedProposal with every TRANSACTION / INIT message. The chaincode
reads it, never verifies it (the peer already did): SignedProposal.proposal_bytes -> Proposal;
Proposal.header -> common.Header -> ChannelHeader + SignatureHeader (creator); Proposal.payload
-> ChaincodeProposalPayload (TransientMap).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from google.protobuf.message import DecodeError, Message

from foc.errors import PeerProtocolError
from foc.fabric.protos import common, identities, proposal

# Channel header types the chaincode may run under (Go shim checks the same two).
_ALLOWED_HEADER_TYPES = (common.HeaderType.ENDORSER_TRANSACTION, common.HeaderType.CONFIG)


@dataclass(frozen=True)
class TransactionContext:
    """Facts decoded from one SignedProposal. Empty when the peer sent no proposal."""

    creator: bytes = b""
    creator_msp_id: str = ""
    creator_id_bytes: bytes = b""
    transient: Mapping[str, bytes] = field(default_factory=lambda: MappingProxyType({}))
    timestamp: datetime | None = None
    channel_id: str = ""
    tx_id: str = ""
    binding: bytes = b""
    signed_proposal: bytes = b""


def _parse(message_type: Any, data: bytes, what: str) -> Any:
    try:
        return message_type.FromString(data)
    except DecodeError as exc:
        raise PeerProtocolError(f"the proposal's {what} is not a valid {message_type.__name__}") from exc


def decode_signed_proposal(signed: Message | None) -> TransactionContext:
    """Decode creator, transient map, timestamp and binding; `PeerProtocolError` if malformed."""
    if signed is None or not signed.proposal_bytes:
        return TransactionContext()
    decoded = _parse(proposal.Proposal, signed.proposal_bytes, "proposal_bytes")
    header = _parse(common.Header, decoded.header, "header")
    channel_header = _parse(common.ChannelHeader, header.channel_header, "channel header")
    if channel_header.type not in _ALLOWED_HEADER_TYPES:
        raise PeerProtocolError(
            f"the proposal's channel header has type {channel_header.type}; "
            "a chaincode runs only ENDORSER_TRANSACTION (3) or CONFIG (1)"
        )
    signature_header = _parse(common.SignatureHeader, header.signature_header, "signature header")
    identity = _parse(identities.SerializedIdentity, signature_header.creator, "creator")
    payload = _parse(proposal.ChaincodeProposalPayload, decoded.payload, "payload")
    timestamp = None
    if channel_header.HasField("timestamp"):
        timestamp = channel_header.timestamp.ToDatetime(tzinfo=UTC)
    # Fabric's binding: sha256(nonce || creator || epoch as 8-byte little-endian).
    binding = hashlib.sha256(
        signature_header.nonce + signature_header.creator + channel_header.epoch.to_bytes(8, "little")
    ).digest()
    return TransactionContext(
        creator=bytes(signature_header.creator),
        creator_msp_id=identity.mspid,
        creator_id_bytes=bytes(identity.id_bytes),
        transient=MappingProxyType({k: bytes(v) for k, v in payload.TransientMap.items()}),
        timestamp=timestamp,
        channel_id=channel_header.channel_id,
        tx_id=channel_header.tx_id,
        binding=binding,
        signed_proposal=signed.SerializeToString(),
    )
