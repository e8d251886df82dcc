"""The device attestation public key, as the normal world reads it.

On OP-TEE the attestation PTA (``39800861-182a-4720-9b67-2bcd622bc0b5``) generates an RSA key
on first use and exports its public half with ``PTA_ATTESTATION_GET_PUBKEY`` (e and n big-endian,
plus the TEE_ALG_* it signs with). The host-native build has no PTA: its "device key" is the
published test key of ``native-insecure-v1`` evidence, labelled ``native-insecure`` so nobody
mistakes it for a device identity.

Public keys only: nothing here is secret, and an administrator pins the key (``foc device
enroll``) before a verifier trusts evidence signed with it.
"""

from __future__ import annotations

import uuid as _uuid
from dataclasses import dataclass
from pathlib import Path

from foc.errors import HostSetupError, TeeError

ATTESTATION_PTA_UUID = _uuid.UUID("39800861-182a-4720-9b67-2bcd622bc0b5")
PTA_ATTESTATION_GET_PUBKEY = 0
TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA256 = 0x70414930

KIND_OPTEE = "optee-pta"
KIND_NATIVE_INSECURE = "native-insecure"

#: The published test key of the host-native build (ta/native/insecure_device_key.c).
NATIVE_INSECURE_KEY_PEM = (
    Path(__file__).resolve().parents[2] / "ta" / "native" / "insecure_device_key.pub.pem"
)
#: PEM private key file of one simulated native device (ta/native/crypto_native.h): several native
#: proxies with different keys play several devices in the multi-device tests. Still NOT a device.
NATIVE_DEVICE_KEY_ENV = "FOC_NATIVE_DEVICE_KEY"


@dataclass(frozen=True)
class DeviceKey:
    """A device attestation public key: DER SubjectPublicKeyInfo, PTA algorithm, and its kind."""

    public_key_der: bytes
    tee_algorithm: int
    kind: str

    def pem(self) -> bytes:
        """The key as PEM (``-----BEGIN PUBLIC KEY-----``)."""
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_der_public_key(self.public_key_der)
        return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def device_key_from_rsa(exponent: bytes, modulus: bytes, tee_algorithm: int) -> DeviceKey:
    """Build the OP-TEE DeviceKey from PTA_ATTESTATION_GET_PUBKEY's big-endian e and n."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = rsa.RSAPublicNumbers(
            int.from_bytes(exponent, "big"), int.from_bytes(modulus, "big")
        ).public_key()
    except ValueError as exc:
        raise TeeError(f"the attestation PTA returned an invalid RSA public key: {exc}") from None
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return DeviceKey(der, tee_algorithm, KIND_OPTEE)


def native_insecure_device_key(
    path: Path = NATIVE_INSECURE_KEY_PEM, *, private_key: str | Path | None = None
) -> DeviceKey:
    """The host-native build's "device key" (proves nothing; tests only): the published test key,
    or the public half of the simulated device's `private_key` file ($FOC_NATIVE_DEVICE_KEY)."""
    from cryptography.hazmat.primitives import serialization

    source = Path(private_key) if private_key is not None else path
    try:
        pem = source.read_bytes()
    except OSError as exc:
        raise HostSetupError(
            f"cannot read the native-insecure test device key {source}: {exc.strerror}",
            hint="run the native backend from a FOC source checkout",
        ) from None
    if private_key is not None:
        key = serialization.load_pem_private_key(pem, password=None).public_key()
    else:
        key = serialization.load_pem_public_key(pem)
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return DeviceKey(der, 0, KIND_NATIVE_INSECURE)


def write_simulated_device_key(path: Path) -> Path:
    """Create (once) a simulated native device's RSA-2048 key file at `path` (mode 0600; NOT a
    device key: a plain file, for tests that need several native "devices")."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pem)
        tmp.chmod(0o600)
        tmp.replace(path)
    return path
