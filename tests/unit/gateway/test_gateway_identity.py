"""Identity: loading an msp directory (cryptogen and Fabric CA layouts), clear errors, signing."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from fabric_protos.msp import identities_pb2

from foc.client.identity import P256_ORDER, Identity, to_low_s
from foc.errors import ConfigError


def write_msp(
    root: Path, identity: Identity, *, cert_name: str = "cert.pem", key_name: str = "priv_sk"
) -> Path:
    (root / "signcerts").mkdir(parents=True)
    (root / "keystore").mkdir()
    (root / "signcerts" / cert_name).write_bytes(identity.certificate_pem)
    (root / "keystore" / key_name).write_bytes(identity.private_key_pem())
    return root


@pytest.fixture(scope="module")
def user() -> Identity:
    return Identity.generate_for_tests("Org1MSP", "User1")


def test_cryptogen_layout_loads(tmp_path: Path, user: Identity) -> None:
    msp = write_msp(tmp_path / "msp", user, cert_name="User1@org1.example.com-cert.pem")
    loaded = Identity.from_msp_dir(msp, "Org1MSP")
    assert loaded.mspid == "Org1MSP" and loaded.certificate_pem == user.certificate_pem
    serialized = identities_pb2.SerializedIdentity.FromString(loaded.serialized())
    assert serialized.mspid == "Org1MSP" and serialized.id_bytes == user.certificate_pem


def test_fabric_ca_layout_picks_the_key_of_the_certificate(tmp_path: Path, user: Identity) -> None:
    msp = write_msp(tmp_path / "msp", user, key_name="9f3c1a_sk")
    stranger = Identity.generate_for_tests("Org1MSP", "old")
    (msp / "keystore" / "0000aa_sk").write_bytes(stranger.private_key_pem())  # an older enrollment
    (msp / "keystore" / "README").write_text("not a key")
    loaded = Identity.from_msp_dir(msp, "Org1MSP")
    signature = loaded.sign(b"data")
    public_key = x509.load_pem_x509_certificate(user.certificate_pem).public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(signature, b"data", ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("no-msp", "the msp directory .* does not exist"),
        ("no-signcerts", "signcerts is missing"),
        ("empty-signcerts", r"no certificate \(\*.pem\) in .*signcerts"),
        ("two-certs", "more than one certificate"),
        ("garbage-cert", "is not a PEM X.509 certificate"),
        ("no-keystore", "keystore is missing"),
        ("empty-keystore", "no private key in .*keystore"),
        ("wrong-key", "no private key in .*keystore belongs to the certificate"),
        ("garbage-key", "priv_sk is not a PEM private key"),
        ("encrypted-key", "priv_sk is encrypted"),
        ("rsa-key", "is not an ECDSA P-256 key"),
    ],
)
def test_msp_dir_errors_name_what_is_wrong(
    tmp_path: Path, user: Identity, breakage: str, message: str
) -> None:
    msp = write_msp(tmp_path / "msp", user)
    signcerts, keystore = msp / "signcerts", msp / "keystore"
    key = serialization.load_pem_private_key(user.private_key_pem(), None)
    if breakage == "no-msp":
        msp = tmp_path / "nowhere"
    elif breakage == "no-signcerts":
        (signcerts / "cert.pem").unlink()
        signcerts.rmdir()
    elif breakage == "empty-signcerts":
        (signcerts / "cert.pem").unlink()
    elif breakage == "two-certs":
        (signcerts / "other.pem").write_bytes(user.certificate_pem)
    elif breakage == "garbage-cert":
        (signcerts / "cert.pem").write_text("hello")
    elif breakage == "no-keystore":
        (keystore / "priv_sk").unlink()
        keystore.rmdir()
    elif breakage == "empty-keystore":
        (keystore / "priv_sk").unlink()
    elif breakage == "wrong-key":
        (keystore / "priv_sk").write_bytes(Identity.generate_for_tests().private_key_pem())
    elif breakage == "garbage-key":
        (keystore / "priv_sk").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    elif breakage == "encrypted-key":
        (keystore / "priv_sk").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"pw"),
            )
        )
    elif breakage == "rsa-key":
        rsa_key = rsa.generate_private_key(65537, 2048)
        (keystore / "priv_sk").write_bytes(
            rsa_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    with pytest.raises(ConfigError, match=message) as caught:
        Identity.from_msp_dir(msp, "Org1MSP")
    assert "PRIVATE KEY" not in str(caught.value)


def test_mismatched_key_and_empty_mspid_are_refused(user: Identity) -> None:
    other = Identity.generate_for_tests()
    with pytest.raises(ConfigError, match="does not belong"):
        Identity.from_pem("Org1MSP", user.certificate_pem, other.private_key_pem())
    with pytest.raises(ConfigError, match="MSP id"):
        Identity.from_pem("", user.certificate_pem, user.private_key_pem())


def test_repr_shows_no_key_material(user: Identity) -> None:
    text = repr(user)
    assert "CN=User1" in text and "Org1MSP" in text
    assert "PRIVATE" not in text and user.private_key_pem().decode() not in text


def test_low_s_normalisation() -> None:
    r, s_low = 12345, 67890
    high = encode_dss_signature(r, P256_ORDER - s_low)
    assert decode_dss_signature(to_low_s(high)) == (r, s_low)
    low = encode_dss_signature(r, s_low)
    assert to_low_s(low) == low
