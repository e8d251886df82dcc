"""What a request carries besides its arguments: the transaction's creator and its transient data.

The creator is Fabric's SignedProposal creator, msp.SerializedIdentity{mspid, id_bytes} (id_bytes:
the PEM certificate of an X.509 MSP), split into its two fields; the transient data is the proposal's
transient map. Both reach the chaincode in the TA (`foc_get_creator`, `foc_get_transient` in
ta/include/foc_chaincode.h) inside the request's context (foc_ta.h: FOC2 requests, and the
confidential request's plaintext, docs/confidential-protocol.md).

`Creator.encode` is the context's encoding of the creator (``bytes msp_id bytes certificate``), and
`creator_hash` its SHA-256: what the enclave signs and what validation before commit compares with
the transaction's creator. No creator encodes as two empty fields.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from foc import wire
from foc.protocol.limits import (
    FOC_MAX_CERTIFICATE,
    FOC_MAX_KEY,
    FOC_MAX_MSP_ID,
    FOC_MAX_TRANSIENT,
    FOC_MAX_VALUE,
)

#: Transient data: key -> value, as Fabric's ChaincodeProposalPayload.TransientMap.
Transient = Mapping[str, bytes]


@dataclass(frozen=True)
class Creator:
    """A transaction's creator: its MSP id and certificate (msp.SerializedIdentity's fields)."""

    msp_id: str
    certificate: bytes

    def __post_init__(self) -> None:
        if not self.msp_id or not self.certificate:
            raise ValueError("a creator has both an MSP id and a certificate")

    def __repr__(self) -> str:  # certificates are public, but long: name the MSP only
        return f"Creator(msp_id={self.msp_id!r}, certificate=<{len(self.certificate)} bytes>)"


def encode_creator(creator: Creator | None) -> bytes:
    """``bytes msp_id bytes certificate`` (two empty fields without a creator)."""
    if creator is None:
        return wire.blob(b"") + wire.blob(b"")
    return wire.blob(creator.msp_id.encode("utf-8")) + wire.blob(creator.certificate)


def creator_hash(creator: Creator | None) -> bytes:
    """SHA-256 of `encode_creator`: the creator hash the enclave signs (32 bytes)."""
    return hashlib.sha256(encode_creator(creator)).digest()


def encode_transient(transient: Transient | None) -> bytes:
    """``u32 n { bytes key bytes value }`` in the map's order."""
    items = list((transient or {}).items())
    return wire.Writer().u32(len(items)).done() + b"".join(
        wire.blob(k.encode("utf-8")) + wire.blob(bytes(v)) for k, v in items
    )


def encode_context(creator: Creator | None, transient: Transient | None) -> bytes:
    """The request context (foc_ta.h): the creator, then the transient data."""
    return encode_creator(creator) + encode_transient(transient)


def decode_creator(r: wire.Reader) -> Creator | None:
    """Read an `encode_creator` from `r`, bounded by the TA's limits; errors are `r`'s."""
    msp = r.blob("creator_msp_id", max_len=FOC_MAX_MSP_ID)
    cert = r.blob("creator_certificate", max_len=FOC_MAX_CERTIFICATE)
    if bool(msp) != bool(cert):
        raise r.fail("a creator needs both its MSP id and its certificate")
    try:
        return Creator(msp.decode("utf-8"), cert) if msp else None
    except UnicodeDecodeError:
        raise r.fail("the creator's MSP id is not UTF-8") from None


def decode_context(r: wire.Reader) -> tuple[Creator | None, dict[str, bytes]]:
    """Read a context (`encode_context`) from `r`, bounded by the TA's limits; errors are `r`'s."""
    creator = decode_creator(r)
    transient: dict[str, bytes] = {}
    for i in range(r.count("ntransient", FOC_MAX_TRANSIENT)):
        key = r.text(f"transient key {i}", max_len=FOC_MAX_KEY)
        if key in transient:
            raise r.fail(f"transient key {i} appears twice")
        transient[key] = r.blob(f"transient value {i}", max_len=FOC_MAX_VALUE)
    return creator, transient
