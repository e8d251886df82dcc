"""Confidential mode through the host-native trusted core (libfoc_core.so), checked by foc.confidential.

The TA side (C, OpenSSL natively) and the client/validator side (Python, `cryptography`) are two
independent implementations of docs/confidential-protocol.md: every test here fails if they
disagree on a single byte. The native build is NOT a TEE: its evidence is "native-insecure-v1",
accepted only with `allow_insecure_native=True`, and its sealed objects are files.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from foc.admin.definitions import ChaincodeDefinition, DefinitionStore, define_chaincode
from foc.admin.devices import DeviceStore, EnrolledDevice, enroll_device, load_public_key
from foc.client.confidential import ConfidentialClient, ConfidentialResult, PendingRequest
from foc.confidential.formats import (
    ConfidentialRequest,
    ConfidentialResponse,
    Credentials,
    EnclaveConfig,
    RequestPlaintext,
    StoredValue,
)
from foc.confidential.suite import EC_P256, REQUEST_LABEL, enclave_id
from foc.deploy.native_build import build_native_core
from foc.errors import AttestationError, ChaincodeError, VerificationError
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.protocol.context import Creator
from foc.protocol.result import InvocationError
from foc.registry.attestation import verify_credentials
from foc.registry.ercc import EnclaveRegistry, RegistryQuery
from foc.tee import abi
from foc.tee.invocation import run_confidential_invocation
from foc.tee.native import NativeBackend, NativeSession
from foc.wrapper.confidential import ConfidentialChaincode

pytestmark = pytest.mark.native

REPO = Path(__file__).resolve().parents[2]
TEST_DEVICE_KEY = REPO / "ta" / "native" / "insecure_device_key.pub.pem"
# ta/native/crypto_native.h: what the native build "measures"
NATIVE_MEASUREMENT = hashlib.sha256(b"FOC native-insecure-v1: not a TEE, nothing measured").digest()
CHANNEL = "dev"
CHAINCODE = "coffee"
ENDPOINT = "native-1:7052"


@pytest.fixture(scope="module")
def library() -> Path:
    env = os.environ.get("FOC_NATIVE_LIB")
    return Path(env) if env else build_native_core()  # else the cached build


@pytest.fixture
def session(library: Path, storage: Path) -> Iterator[NativeSession]:
    backend = NativeBackend(library)
    s = backend.open_session()
    try:
        yield s
    finally:
        s.close()
        backend.close()


def config(*, force: bool = False, channel: str = CHANNEL, version: str = NATIVE_MEASUREMENT.hex()) -> bytes:
    return EnclaveConfig(CHAINCODE, version, channel, ENDPOINT, force=force).encode()


def create(session: NativeSession, **kwargs: object) -> Credentials:
    msg_type, out = session.invoke(abi.FOC_CMD_ENCLAVE_CREATE, config(**kwargs))  # type: ignore[arg-type]
    assert msg_type == abi.FOC_MSG_RESPONSE, abi.decode_error(out)
    return Credentials.decode(out)


def ta_error(msg_type: int, out: bytes) -> InvocationError:
    assert msg_type == abi.FOC_MSG_ERROR, msg_type
    return abi.decode_error(out)


def insecure_device() -> EnrolledDevice:
    return EnrolledDevice("native-insecure", load_public_key(TEST_DEVICE_KEY.read_bytes()))


def definition(channel: str = CHANNEL) -> ChaincodeDefinition:
    return ChaincodeDefinition(CHAINCODE, NATIVE_MEASUREMENT.hex(), channel)


def invoke_confidential(session: NativeSession, request: bytes) -> tuple[int, bytes]:
    """FOC_CMD_CONFIDENTIAL_INVOKE with `request` as the proxy sends it (FCI1, no creator)."""
    return session.invoke(abi.FOC_CMD_CONFIDENTIAL_INVOKE, abi.encode_confidential_invocation(request, None))


@dataclass
class TaEnclave:
    """`foc.wrapper.confidential.ConfidentialEnclave` over a TA session (what the proxy does)."""

    session: NativeSession
    round_trips: int = 0

    def invoke(
        self,
        confidential_request: bytes,
        get_state: Callable[[str], bytes | None],
        *,
        transaction_id: str = "",
        channel_id: str = "",
        creator: Creator | None = None,
        get_state_by_range: Callable[[str, str], Sequence[tuple[str, bytes]]] | None = None,
    ) -> bytes:
        result = run_confidential_invocation(
            self.session, confidential_request, get_state, get_state_by_range, creator=creator
        )
        self.round_trips += result.round_trips - 1
        result.raise_for_error()
        assert result.confidential_response is not None
        return result.confidential_response


# -- enclave lifecycle ---------------------------------------------------------------------------


def test_credentials_before_create_is_not_found(session: NativeSession) -> None:
    err = ta_error(*session.invoke(abi.FOC_CMD_ENCLAVE_CREDENTIALS))
    assert err.code == "NOT_FOUND" and "no enclave" in err.message


def test_create_gives_credentials_the_verifier_accepts_only_when_native_is_allowed(
    session: NativeSession,
) -> None:
    creds = create(session)
    attested, evidence = creds.attested_data, creds.evidence
    assert (attested.chaincode_id, attested.channel_id, attested.host_endpoint) == (
        CHAINCODE,
        CHANNEL,
        ENDPOINT,
    )
    assert attested.chaincode_version == NATIVE_MEASUREMENT.hex()
    assert evidence.kind == "native-insecure-v1" and evidence.measurement == NATIVE_MEASUREMENT
    EC_P256.decode_point(attested.enclave_pub)
    EC_P256.decode_point(attested.chaincode_pub)
    verified = verify_credentials(creds, definition(), [insecure_device()], allow_insecure_native=True)
    assert verified.enclave_id == enclave_id(attested.enclave_pub)
    with pytest.raises(AttestationError, match="native"):
        verify_credentials(creds, definition(), [insecure_device()])
    # the stored credentials are exactly what create returned
    msg_type, out = session.invoke(abi.FOC_CMD_ENCLAVE_CREDENTIALS)
    assert msg_type == abi.FOC_MSG_RESPONSE and out == creds.encode()


def test_evidence_is_bound_to_the_attested_data(session: NativeSession) -> None:
    creds = create(session)
    other = create(session, force=True)
    # evidence of one enclave with the attested data of another: the signature no longer verifies
    swapped = Credentials(other.attested_data_bytes, creds.evidence_bytes)
    with pytest.raises(AttestationError, match="does not verify"):
        verify_credentials(swapped, definition(), [insecure_device()], allow_insecure_native=True)


def test_recreate_is_refused_force_replaces_the_enclave_and_keeps_the_chaincode_keys(
    session: NativeSession, storage: Path
) -> None:
    first = create(session)
    err = ta_error(*session.invoke(abi.FOC_CMD_ENCLAVE_CREATE, config()))
    assert err.code == "EXISTS" and "force" in err.message
    msg_type, out = session.invoke(abi.FOC_CMD_ENCLAVE_CREDENTIALS)
    assert out == first.encode()  # the refused create changed nothing
    second = create(session, force=True)
    assert second.attested_data.enclave_pub != first.attested_data.enclave_pub
    assert second.attested_data.chaincode_pub == first.attested_data.chaincode_pub
    # each TA's objects in its own directory, named by its uuid (OP-TEE keeps TAs' storage apart)
    assert [p.name for p in storage.iterdir()] == [abi.FOC_TA_UUID_STR]
    assert sorted(p.name for p in (storage / abi.FOC_TA_UUID_STR).iterdir()) == [
        "foc.chaincode.v1",
        "foc.enclave.v1",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"FEC2",
        config()[:-1],
        config() + b"\x00",
        config()[:-1] + b"\x02",
        EnclaveConfig(CHAINCODE, "v", "", ENDPOINT).encode(),
        EnclaveConfig("x" * 257, "v", CHANNEL, ENDPOINT).encode(),
    ],
)
def test_malformed_enclave_config_is_refused_and_nothing_is_stored(
    session: NativeSession, storage: Path, bad: bytes
) -> None:
    err = ta_error(*session.invoke(abi.FOC_CMD_ENCLAVE_CREATE, bad))
    assert err.code in ("BAD_REQUEST", "LIMIT"), err
    assert list(storage.iterdir()) == []


def test_keys_survive_a_process_restart(session: NativeSession, library: Path, storage: Path) -> None:
    creds = create(session)
    script = (
        "import sys\n"
        "from foc.tee.native import NativeBackend\n"
        "from foc.tee import abi\n"
        "s = NativeBackend(sys.argv[1]).open_session()\n"
        "t, out = s.invoke(abi.FOC_CMD_ENCLAVE_CREDENTIALS)\n"
        "sys.stdout.write(out.hex())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(library)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "FOC_NATIVE_STORAGE": str(storage)},
        cwd=REPO,
    ).stdout
    assert bytes.fromhex(out) == creds.encode()


def test_without_storage_directory_create_is_a_structured_error(
    session: NativeSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FOC_NATIVE_STORAGE")
    err = ta_error(*session.invoke(abi.FOC_CMD_ENCLAVE_CREATE, config()))
    assert err.code == "INTERNAL" and "storage" in err.message


# -- end to end on the dev ledger ----------------------------------------------------------------


@dataclass
class Network:
    ledger: DevLedger
    peer: DevPeer
    enclave: TaEnclave
    definition: ChaincodeDefinition

    def registry(self) -> RegistryQuery:
        return RegistryQuery(lambda args: self.peer.query("ercc", args).response)

    def client(self) -> ConfidentialClient:
        return ConfidentialClient(self.definition, self.registry())

    def execute(self, client: ConfidentialClient, *args: str) -> tuple[PendingRequest, bytes]:
        pending = client.encrypt_request(list(args))
        result = self.peer.query(CHAINCODE, ["__invoke", pending.request])
        assert result.response.endorsed, result.response.message
        return pending, result.response.payload

    def submit(self, client: ConfidentialClient, *args: str) -> ConfidentialResult:
        pending, response = self.execute(client, *args)
        result = client.open_response(pending, response)
        if result.ok:
            committed = self.peer.invoke(CHAINCODE, ["__endorse", pending.request, response])
            assert committed.committed, committed.response.message
        return result

    def state(self) -> dict[str, bytes]:
        return {k: v for (ns, k), (v, _) in self.ledger.state_dump().items() if ns == CHAINCODE}


@pytest.fixture
def network(tmp_path: Path, session: NativeSession) -> Iterator[Network]:
    home = tmp_path / "foc-home"
    defn = define_chaincode(CHAINCODE, NATIVE_MEASUREMENT.hex(), CHANNEL, home=home)
    enroll_device("native-insecure", TEST_DEVICE_KEY.read_bytes(), home=home)
    ledger = DevLedger(tmp_path / "ledger.sqlite", channel=CHANNEL)
    definitions = DefinitionStore(home)
    enclave = TaEnclave(session)
    peer = DevPeer(
        ledger,
        {
            "ercc": EnclaveRegistry(definitions, DeviceStore(home), allow_insecure_native=True),
            CHAINCODE: ConfidentialChaincode(CHAINCODE, enclave, definitions),
        },
    )
    creds = create(session)
    registered = peer.invoke("ercc", ["registerEnclave", base64.b64encode(creds.encode())])
    assert registered.committed, registered.response.message
    try:
        yield Network(ledger, peer, enclave, defn)
    finally:
        ledger.close()


def test_round_trip_create_register_invoke_validate_commit_query(network: Network) -> None:
    client = network.client()
    # Counts long enough that finding them by chance in 40 random bytes is negligible (a two-digit
    # count made this test fail once: the random nonce held "15").
    assert network.submit(client, "create", "alice", "7340010").value() == b"OK"
    assert network.submit(client, "add", "alice", "5").value() == b"OK"
    pending, response = network.execute(client, "query", "alice")
    result = client.open_response(pending, response)
    assert result.value() == b"person: alice, number of consumed coffees: 7340015"
    assert [r.key for r in result.signed.reads] == ["alice"] and result.signed.writes == ()

    stored = network.state()
    assert stored["alice"].startswith(b"FCS1")
    assert b"7340015" not in stored["alice"] and b"7340010" not in stored["alice"]
    StoredValue.decode(stored["alice"])
    assert len([k for k in stored if k.startswith("~foc/request/")]) == 2
    assert network.ledger.verify().ok


def test_chaincode_errors_arrive_encrypted_and_signed_with_no_writes(network: Network) -> None:
    client = network.client()
    network.submit(client, "create", "alice", "1")
    pending, response = network.execute(client, "create", "alice", "2")
    result = client.open_response(pending, response)
    assert result.status == 500 and result.signed.writes == ()
    assert [r.key for r in result.signed.reads] == ["alice"]
    with pytest.raises(ChaincodeError) as err:
        result.value()
    assert err.value.code == "EXISTS"
    pending, response = network.execute(client, "add", "bob", "2")
    with pytest.raises(ChaincodeError) as err:
        client.open_response(pending, response).value()
    assert err.value.code == "NOT_FOUND"


def test_value_copied_to_another_key_fails_authentication_naming_the_key(network: Network) -> None:
    client = network.client()
    network.submit(client, "create", "alice", "1")
    network.submit(client, "create", "bob", "2")
    stored = network.state()
    # what a malicious peer admin could do: swap the two ciphertexts
    from foc.ledger.rwset import KeyWrite, ReadWriteSet

    rwset = ReadWriteSet(
        writes=(KeyWrite(CHAINCODE, "alice", stored["bob"]), KeyWrite(CHAINCODE, "bob", stored["alice"]))
    )
    network.ledger.commit("tamper-swap", CHAINCODE, rwset)
    pending = client.encrypt_request(["query", "bob"])
    result = network.peer.query(CHAINCODE, ["__invoke", pending.request])
    assert not result.response.endorsed
    assert "state value for bob failed authentication" in result.response.message


@pytest.mark.parametrize("where", ["flip", "truncate"])
def test_tampered_state_value_is_inconsistent(network: Network, where: str) -> None:
    client = network.client()
    network.submit(client, "create", "alice", "1")
    value = network.state()["alice"]
    bad = value[:-1] + bytes([value[-1] ^ 1]) if where == "flip" else value[:-1]
    enclave = network.enclave
    with pytest.raises(ChaincodeError) as err:
        enclave.invoke(client.encrypt_request(["query", "alice"]).request, lambda key: bad)
    assert err.value.code == "INCONSISTENT" and "alice" in str(err.value)


def test_tampered_request_is_refused_before_running(network: Network) -> None:
    client = network.client()
    pending = client.encrypt_request(["create", "alice", "1"])
    for index in (len(pending.request) - 3, 10, 4 + 4 + 65 + 4 + 3):
        bad = bytearray(pending.request)
        bad[index] ^= 1
        with pytest.raises(ChaincodeError) as err:
            network.enclave.invoke(bytes(bad), lambda key: None)
        assert err.value.code == "BAD_REQUEST"
    assert network.enclave.round_trips == 0


def test_tampered_response_is_refused_by_the_client_and_the_validator(network: Network) -> None:
    client = network.client()
    pending, response = network.execute(client, "create", "alice", "1")
    envelope = ConfidentialResponse.decode(response)
    message = bytearray(envelope.signed_message)
    message[-5] ^= 1  # inside the encrypted response
    bad = ConfidentialResponse(bytes(message), envelope.signature).encode()
    with pytest.raises(VerificationError):
        client.open_response(pending, bad)
    committed = network.peer.invoke(CHAINCODE, ["__endorse", pending.request, bad])
    assert not committed.committed
    assert network.state() == {}


def _request(
    chaincode_pub: bytes, channel: str, chaincode: str, args: tuple[bytes, ...], point: bytes | None = None
) -> bytes:
    eph = EC_P256.generate_private_key()
    eph_point = EC_P256.encode_point(eph)
    key = EC_P256.request_key(eph, chaincode_pub, ephemeral_point=eph_point, chaincode_point=chaincode_pub)
    plaintext = RequestPlaintext(channel, chaincode, args, os.urandom(32)).encode()
    sealed = EC_P256.seal(key, plaintext, REQUEST_LABEL)
    return ConfidentialRequest(point or eph_point, sealed.nonce, sealed.ciphertext).encode()


@pytest.mark.parametrize(
    ("channel", "chaincode", "needle"),
    [("other", CHAINCODE, "another channel"), (CHANNEL, "tea", "another chaincode")],
)
def test_request_for_another_channel_or_chaincode_is_refused(
    session: NativeSession, channel: str, chaincode: str, needle: str
) -> None:
    creds = create(session)
    request = _request(creds.attested_data.chaincode_pub, channel, chaincode, (b"query", b"alice"))
    err = ta_error(*invoke_confidential(session, request))
    assert err.code == "BAD_REQUEST" and needle in err.message


def test_client_point_not_on_the_curve_is_a_structured_error(session: NativeSession) -> None:
    creds = create(session)
    point = b"\x04" + (1).to_bytes(32, "big") + (1).to_bytes(32, "big")
    request = _request(creds.attested_data.chaincode_pub, CHANNEL, CHAINCODE, (b"query", b"a"), point=point)
    err = ta_error(*invoke_confidential(session, request))
    assert err.code == "BAD_REQUEST" and "P-256" in err.message


def test_invoke_before_create_is_not_found(session: NativeSession) -> None:
    point = EC_P256.encode_point(EC_P256.generate_private_key())
    request = _request(point, CHANNEL, CHAINCODE, (b"query", b"a"))
    err = ta_error(*invoke_confidential(session, request))
    assert err.code == "NOT_FOUND"


def test_reserved_key_prefix_cannot_be_written(network: Network) -> None:
    client = network.client()
    pending, response = network.execute(client, "create", "~foc/request/00", "1")
    with pytest.raises(ChaincodeError) as err:
        client.open_response(pending, response).value()
    assert err.value.code == "BAD_ARGUMENT"


def test_state_answer_limit_counts_the_ciphertext_overhead(network: Network) -> None:
    client = network.client()
    request = client.encrypt_request(["query", "alice"]).request
    session = network.enclave.session
    limit = abi.FOC_MAX_VALUE + abi.FOC_CONF_STATE_OVERHEAD
    for size, code in ((limit, "INCONSISTENT"), (limit + 1, "LIMIT")):
        msg_type, out = invoke_confidential(session, request)
        assert msg_type == abi.FOC_MSG_GET_STATE
        answer = b"\x01" + size.to_bytes(4, "little") + b"\x00" * size
        err = ta_error(*session.invoke(abi.FOC_CMD_RESUME, answer))
        assert err.code == code, err


def published_test_private_key() -> rsa.RSAPrivateKey:
    """The private key compiled into the native build (ta/native/insecure_device_key.c)."""
    source = (REPO / "ta" / "native" / "insecure_device_key.c").read_text()
    pem = "".join(re.findall(r'^\s*"([^"]*)\\n"\s*$', source, flags=re.MULTILINE))
    assert pem.startswith("-----BEGIN PRIVATE KEY-----") and pem.endswith("-----END PRIVATE KEY-----")
    pem = pem.replace("-----BEGIN PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----\n")
    pem = pem.replace("-----END PRIVATE KEY-----", "\n-----END PRIVATE KEY-----\n")
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def test_device_key_file_is_the_published_test_key(session: NativeSession) -> None:
    """The .pub.pem verifiers enroll is the public half of the key the native build signs with, and
    the native build's evidence verifies under it (and under no other key of that size)."""
    published = load_public_key(TEST_DEVICE_KEY.read_bytes())
    private = published_test_private_key()
    assert published.public_numbers() == private.public_key().public_numbers()
    creds = create(session)
    verify_credentials(creds, definition(), [insecure_device()], allow_insecure_native=True)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = EnrolledDevice("other", stranger.public_key())
    with pytest.raises(AttestationError, match="does not verify"):
        verify_credentials(creds, definition(), [other], allow_insecure_native=True)


@pytest.mark.parametrize("sanitize", [False, True], ids=["plain", "asan-ubsan"])
def test_c_confidential_tests_pass(sanitize: bool) -> None:
    """ta/native/tests/test_confidential.c: formats, negative cases, restart, out-of-memory."""
    from foc.deploy import native_build

    program = native_build.build_native_tests(sanitize=sanitize).with_name("foc_confidential_tests")
    proc = subprocess.run([str(program)], capture_output=True, text=True, timeout=300, check=False)
    summary = proc.stdout.strip().splitlines()[-1]
    assert proc.returncode == 0 and summary.endswith(" 0 failed"), proc.stdout + proc.stderr
    assert int(summary.split()[1]) > 400


def test_fuzz_smoke_confidential(tmp_path: Path) -> None:
    """A few seconds of the libFuzzer target on confidential requests and stored-value answers."""
    from foc.deploy import native_build

    def seed(op: int, chunk: bytes) -> bytes:
        return bytes([op]) + struct.pack("<H", len(chunk)) + chunk

    fuzzer = native_build.build_native_fuzzer()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "create").write_bytes(seed(7, b"create\0alice\x003") + seed(8, b"\x00"))
    (corpus / "query").write_bytes(seed(7, b"query\0alice") + seed(8, b"\x015"))
    (corpus / "swapped").write_bytes(seed(7, b"add\0bob\x001") + seed(8, b"\x0342"))
    (corpus / "raw").write_bytes(seed(6, b"\x00FCR1") + seed(6, b"\x01FEC2"))
    (corpus / "keys").write_bytes(seed(6, b"\x02FEC2") + seed(6, b"\x03FKE1") + seed(6, b"\x04FKI1"))
    proc = subprocess.run(
        [str(fuzzer), "-max_total_time=4", "-max_len=4096", "-seed=1", str(corpus)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Done" in proc.stderr
