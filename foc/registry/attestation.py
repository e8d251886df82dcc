"""Verification of enclave credentials: evidence from OP-TEE's attestation PTA.

The TA asks the PTA (`PTA_ATTESTATION_HASH_TA_MEMORY`) to measure its own read-only memory and to
sign ``SHA-256(nonce || measurement)`` with the device key (RSASSA-PSS, MGF1-SHA256, salt 32),
where the TA itself computes ``nonce = SHA-256(attested_data)``. Verifying that signature under an
enrolled device key therefore proves that a TA with that measurement, on that device, produced
exactly these attested data (its keys, its chaincode definition, its host endpoint).

Checks, in order, each failing with its own reason: evidence kind; attested data against the
chaincode definition (id, version, channel, key policy digest = the digest of the definition's
devices); signature under an enrolled device key over the nonce derived from the attested data;
measurement = the definition's version.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from foc.admin.definitions import ChaincodeDefinition
from foc.admin.devices import EnrolledDevice
from foc.confidential.formats import (
    EVIDENCE_KIND_NATIVE_INSECURE,
    EVIDENCE_KIND_TA_MEMORY,
    AttestedData,
    Credentials,
    Evidence,
)
from foc.confidential.suite import EC_P256, enclave_id, sha256
from foc.errors import AttestationError

PSS_SALT_LENGTH = 32


def attestation_nonce(attested_data: bytes) -> bytes:
    """The nonce the TA passes to the PTA: SHA-256 of the encoded attested data."""
    return sha256(attested_data)


def signed_digest(nonce: bytes, measurement: bytes) -> bytes:
    """What the PTA signs: SHA-256(nonce || measurement)."""
    return sha256(nonce + measurement)


def pss_padding() -> padding.PSS:
    """RSASSA-PSS as the PTA uses it (TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA256, salt length 32)."""
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH)


@dataclass(frozen=True)
class VerifiedEnclave:
    """Credentials that passed every check, with the device whose key signed them."""

    credentials: Credentials
    attested: AttestedData
    evidence: Evidence
    device: EnrolledDevice

    @property
    def enclave_id(self) -> str:
        return enclave_id(self.attested.enclave_pub)


def check_attested_data(attested: AttestedData, definition: ChaincodeDefinition) -> None:
    """The attested chaincode id, version, channel and key policy must be the definition's."""
    if attested.chaincode_id != definition.chaincode_id:
        raise AttestationError(
            f"credentials are for chaincode {attested.chaincode_id!r}, not {definition.chaincode_id!r}"
        )
    if attested.channel_id != definition.channel_id:
        raise AttestationError(
            f"credentials are for channel {attested.channel_id!r}, but chaincode "
            f"{definition.chaincode_id!r} is defined on channel {definition.channel_id!r}"
        )
    if attested.chaincode_version != definition.version:
        raise AttestationError(
            f"credentials claim chaincode version {attested.chaincode_version[:16]!r}..., but the "
            f"definition of {definition.chaincode_id!r} has version {definition.version[:16]}...",
            hint="re-create the enclave with the current definition's version",
        )
    if attested.key_policy_digest != definition.key_policy().digest():
        raise AttestationError(
            f"the enclave's chaincode keys are bound to another key policy than the devices of the "
            f"definition of {definition.chaincode_id!r} ({len(definition.devices)} device(s))",
            hint="create the first enclave with the definition's devices (foc enclave create), "
            "or give the definition the devices the keys were created for",
        )


def verify_credentials(
    credentials: Credentials,
    definition: ChaincodeDefinition,
    devices: Iterable[EnrolledDevice],
    *,
    allow_insecure_native: bool = False,
) -> VerifiedEnclave:
    """Verify credentials against a chaincode definition and the enrolled devices.

    `allow_insecure_native` (tests only) also accepts the host-native build's
    `native-insecure-v1` evidence, which is checked the same way but proves nothing.
    Raises AttestationError with the first failed check's reason.
    """
    attested = credentials.attested_data
    evidence = credentials.evidence
    if evidence.kind == EVIDENCE_KIND_NATIVE_INSECURE and not allow_insecure_native:
        raise AttestationError(
            "evidence comes from the host-native build (native-insecure-v1), not from a TEE; it is "
            "refused unless explicitly allowed for tests"
        )
    if evidence.kind not in (EVIDENCE_KIND_TA_MEMORY, EVIDENCE_KIND_NATIVE_INSECURE):
        raise AttestationError(
            f"evidence kind {evidence.kind!r} is not supported (expected {EVIDENCE_KIND_TA_MEMORY!r})"
        )
    check_attested_data(attested, definition)
    EC_P256.decode_point(attested.enclave_pub, what="attested enclave public key")
    EC_P256.decode_point(attested.chaincode_pub, what="attested chaincode public key")
    device = _signing_device(credentials, evidence, list(devices))
    if evidence.measurement != definition.measurement:
        raise AttestationError(
            f"TA measurement {evidence.measurement.hex()} does not match the version of chaincode "
            f"{definition.chaincode_id!r} ({definition.version})",
            hint="the device runs a different TA build than the one defined; re-measure the .ta",
        )
    return VerifiedEnclave(credentials, attested, evidence, device)


def _signing_device(
    credentials: Credentials, evidence: Evidence, devices: list[EnrolledDevice]
) -> EnrolledDevice:
    if not devices:
        raise AttestationError(
            "no device is enrolled, so no evidence can be trusted",
            hint="enroll the device's attestation key first (foc device enroll)",
        )
    digest = signed_digest(attestation_nonce(credentials.attested_data_bytes), evidence.measurement)
    for device in devices:
        if len(evidence.signature) != (device.public_key.key_size + 7) // 8:
            continue
        try:
            device.public_key.verify(evidence.signature, digest, pss_padding(), Prehashed(hashes.SHA256()))
        except InvalidSignature:
            continue
        return device
    # PSS cannot tell these apart: a valid signature over another digest looks like any invalid one.
    raise AttestationError(
        f"evidence signature does not verify under any of the {len(devices)} enrolled device key(s) "
        "over SHA-256(SHA-256(attested data) || measurement): the device is not enrolled, the "
        "evidence or attested data were altered, or the nonce was not SHA-256 of the attested data",
        hint="check that the device is enrolled (foc device enroll) and re-create the enclave",
    )
