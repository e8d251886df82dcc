"""Device enrollment and chaincode definitions on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from foc.admin.definitions import DefinitionStore, define_chaincode
from foc.admin.devices import DeviceStore, device_key_from_pta, enroll_device
from foc.errors import ConfigError, UsageError


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_enroll_from_pem_and_from_pta_numbers(tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    device = enroll_device("rpi3-a", pem, home=tmp_path)
    assert (tmp_path / "devices" / "rpi3-a.pem").read_bytes() == pem
    numbers = key.public_key().public_numbers()
    from_pta = device_key_from_pta(numbers.e.to_bytes(3, "big"), numbers.n.to_bytes(256, "big"))
    assert enroll_device("rpi3-a", from_pta, home=tmp_path).fingerprint == device.fingerprint  # idempotent
    assert [d.name for d in DeviceStore(tmp_path).devices()] == ["rpi3-a"]


def test_enrollment_refusals(tmp_path: Path, key: rsa.RSAPrivateKey) -> None:
    enroll_device("a", key.public_key(), home=tmp_path)
    with pytest.raises(UsageError, match="already enrolled as device 'a'"):
        enroll_device("b", key.public_key(), home=tmp_path)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(UsageError, match="already enrolled with a different key"):
        enroll_device("a", other, home=tmp_path)
    enroll_device("a", other, home=tmp_path, replace=True)
    with pytest.raises(UsageError, match="must be RSA"):
        ec_pem = (
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        enroll_device("c", ec_pem, home=tmp_path)
    with pytest.raises(UsageError, match="invalid device name"):
        enroll_device("../escape", key.public_key(), home=tmp_path)
    with pytest.raises(ConfigError, match="not enrolled"):
        DeviceStore(tmp_path).get("nobody")


def test_definitions_round_trip_and_refuse_non_measurement_versions(tmp_path: Path) -> None:
    d = define_chaincode("coffee", "AB" * 32, "dev", home=tmp_path)
    assert d.version == "ab" * 32 and d.measurement == bytes.fromhex("ab" * 32)
    assert DefinitionStore(tmp_path).get("coffee") == d
    assert DefinitionStore(tmp_path).find("tea") is None
    with pytest.raises(ConfigError, match="has no definition"):
        DefinitionStore(tmp_path).get("tea")
    with pytest.raises(UsageError, match="TA measurement"):
        define_chaincode("coffee", "1.0", "dev", home=tmp_path)
    (tmp_path / "chaincodes" / "coffee" / "definition.json").write_text("{")
    with pytest.raises(ConfigError, match="malformed"):
        DefinitionStore(tmp_path).get("coffee")
