"""Confidential mode on real OP-TEE (QEMU): attestation, sealed keys, confidential invocations.

The TA runs in the guest, driven by Python through libteec; everything secret-side is checked on
the host by foc.confidential (`cryptography`), an implementation independent of the TA's:
- enclave creation returns evidence from OP-TEE's attestation PTA that the verifier accepts with
  the device key the normal world reads from the PTA (PTA_ATTESTATION_GET_PUBKEY, `foc device
  enroll` semantics), and the measurement in it equals foc.confidential's offline computation
  from the very .ta file the guest loaded;
- the sealed keys survive a new proxy process and a TA restart (FOC_CMD_PANIC);
- confidential invocations round-trip, including the dev-ledger flow (register, __invoke,
  validate, commit, query) with the TA in the guest as the enclave.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from foc.admin.definitions import ChaincodeDefinition, DefinitionStore, define_chaincode
from foc.admin.devices import DeviceStore, EnrolledDevice, device_key_from_pta, enroll_device
from foc.client.confidential import ConfidentialClient
from foc.confidential.formats import (
    ConfidentialRequest,
    ConfidentialResponse,
    Credentials,
    EnclaveConfig,
    EncryptedResponse,
    RequestPlaintext,
    ResponsePlaintext,
    StoredValue,
)
from foc.confidential.measurement import ta_measurement
from foc.confidential.suite import EC_P256, REQUEST_LABEL, enclave_id, sha256
from foc.errors import AttestationError, ChaincodeError
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.protocol.context import Creator
from foc.registry.attestation import verify_credentials
from foc.registry.ercc import EnclaveRegistry, RegistryQuery
from foc.tee import abi
from foc.wrapper.confidential import ConfidentialChaincode

pytestmark = pytest.mark.qemu

TA_PATH = f"/lib/optee_armtz/{abi.FOC_TA_UUID_STR}.ta"
CHANNEL = "dev"
CHAINCODE = "coffee"
ENDPOINT = "qemu-1:7052"
PTA_UUID = "39800861-182a-4720-9b67-2bcd622bc0b5"
TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA256 = 0x70414930

# Runs in the guest: FOC TA commands through foc.tee.libteec, and the PTA's public key.
GUEST_PRELUDE = f"""
PTA_UUID = {PTA_UUID!r}
import ctypes, json, sys, uuid
from ctypes import byref, c_uint32, c_uint8, c_void_p
from foc.tee import abi
from foc.tee import libteec as L

def pta_pubkey(backend):
    lib = backend._lib
    sess = L._PaddedSession()
    origin = c_uint32(0)
    pta = L.TEEC_UUID.from_uuid(uuid.UUID(PTA_UUID))
    rc = lib.TEEC_OpenSession(byref(backend._ctx), byref(sess), byref(pta), L.TEEC_LOGIN_PUBLIC,
                              None, None, byref(origin))
    assert rc == 0, hex(rc)
    e, n = (c_uint8 * 16)(), (c_uint8 * 1024)()
    op = L.TEEC_Operation()
    op.paramTypes = L.param_types(L.TEEC_MEMREF_TEMP_OUTPUT, L.TEEC_MEMREF_TEMP_OUTPUT, L.TEEC_VALUE_OUTPUT)
    op.params[0].tmpref.buffer = ctypes.cast(e, c_void_p)
    op.params[0].tmpref.size = 16
    op.params[1].tmpref.buffer = ctypes.cast(n, c_void_p)
    op.params[1].tmpref.size = 1024
    rc = lib.TEEC_InvokeCommand(byref(sess), 0, byref(op), byref(origin))  # PTA_ATTESTATION_GET_PUBKEY
    lib.TEEC_CloseSession(byref(sess))
    assert rc == 0, hex(rc)
    return (bytes(e[: op.params[0].tmpref.size]).hex(), bytes(n[: op.params[1].tmpref.size]).hex(),
            op.params[2].value.a)

def out(tag, *values):
    print(tag, *values, flush=True)

backend = L.LibteecBackend()
session = backend.open_session()
"""

GUEST_EPILOGUE = """
session.close()
backend.close()
out("DONE")
"""


def run_guest(guest, body: str, timeout: float = 300.0) -> dict[str, list[str]]:
    """Run `body` after the prelude in a new guest process; map each output tag to its values."""
    rc, text = guest.python(GUEST_PRELUDE + body + GUEST_EPILOGUE, timeout=timeout)
    assert rc == 0 and "DONE" in text, text[-4000:]
    lines: dict[str, list[str]] = {}
    for line in text.splitlines():
        tag, _, rest = line.partition(" ")
        if tag.isupper():
            lines[tag] = rest.split()
    return lines


@dataclass
class OpteeEnclave:
    """The enclave created in the guest's TA, as the host sees it."""

    credentials: Credentials
    device: EnrolledDevice
    measurement: bytes
    ta_sha256: str

    @property
    def definition(self) -> ChaincodeDefinition:
        return ChaincodeDefinition(CHAINCODE, self.measurement.hex(), CHANNEL)


def fetch_guest_ta(guest) -> bytes:
    """The exact .ta the guest's OP-TEE loads (the shared image may be rebuilt under us)."""
    rc, text = guest.console.run(f"base64 {TA_PATH}", timeout=300)
    assert rc == 0, text[-2000:]
    return base64.b64decode("".join(text.split()))


@pytest.fixture(scope="module")
def optee_enclave(guest) -> OpteeEnclave:
    """Create (force) the enclave once on OP-TEE; read the device key from the PTA."""
    ta = fetch_guest_ta(guest)
    measurement = ta_measurement(ta)
    config = EnclaveConfig(CHAINCODE, measurement.hex(), CHANNEL, ENDPOINT, force=True).encode()
    lines = run_guest(
        guest,
        f"""
t, data = session.invoke(abi.FOC_CMD_ENCLAVE_CREATE, bytes.fromhex({config.hex()!r}))
out("CREATE", t, data.hex())
out("PUBKEY", *pta_pubkey(backend))
""",
    )
    msg_type, creds_hex = lines["CREATE"]
    assert int(msg_type) == abi.FOC_MSG_RESPONSE, abi.decode_error(bytes.fromhex(creds_hex))
    e_hex, n_hex, alg = lines["PUBKEY"]
    assert int(alg) == TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA256
    device = EnrolledDevice("qemu", device_key_from_pta(bytes.fromhex(e_hex), bytes.fromhex(n_hex)))
    return OpteeEnclave(
        Credentials.decode(bytes.fromhex(creds_hex)), device, measurement, hashlib.sha256(ta).hexdigest()
    )


def test_evidence_measurement_equals_the_offline_measurement_of_the_loaded_ta(optee_enclave) -> None:
    evidence = optee_enclave.credentials.evidence
    assert evidence.kind == "optee-ta-memory-v1"
    assert evidence.measurement == optee_enclave.measurement, (
        f"PTA measured {evidence.measurement.hex()}, foc.confidential.measurement computed "
        f"{optee_enclave.measurement.hex()} from the guest's .ta (sha256 {optee_enclave.ta_sha256})"
    )
    assert len(evidence.signature) == optee_enclave.device.public_key.key_size // 8 == 384


def test_python_verifier_accepts_optee_evidence_with_the_pta_device_key(optee_enclave) -> None:
    creds = optee_enclave.credentials
    verified = verify_credentials(creds, optee_enclave.definition, [optee_enclave.device])
    assert verified.enclave_id == enclave_id(creds.attested_data.enclave_pub)
    assert creds.attested_data.host_endpoint == ENDPOINT


def test_optee_evidence_is_bound_to_its_attested_data_and_device(optee_enclave) -> None:
    creds = optee_enclave.credentials
    attested = creds.attested_data_bytes
    # another enclave key in the attested data: the PTA signed a different nonce
    other_point = EC_P256.encode_point(EC_P256.generate_private_key())
    forged = attested.replace(creds.attested_data.enclave_pub, other_point)
    with pytest.raises(AttestationError, match="does not verify"):
        verify_credentials(
            Credentials(forged, creds.evidence_bytes), optee_enclave.definition, [optee_enclave.device]
        )
    from cryptography.hazmat.primitives.asymmetric import rsa

    stranger = EnrolledDevice(
        "other", rsa.generate_private_key(public_exponent=65537, key_size=3072).public_key()
    )
    with pytest.raises(AttestationError, match="does not verify under any of the 1 enrolled"):
        verify_credentials(creds, optee_enclave.definition, [stranger])
    wrong = ChaincodeDefinition(CHAINCODE, "00" * 32, CHANNEL)
    # refused by the version check, before the measurement is compared (the measurement check
    # with genuine OP-TEE evidence: test_a_ta_claiming_another_version_is_refused_by_its_measurement)
    with pytest.raises(AttestationError, match="claim chaincode version"):
        verify_credentials(creds, wrong, [optee_enclave.device])


def test_keys_survive_a_new_proxy_process_and_a_ta_restart(guest, optee_enclave) -> None:
    again = EnclaveConfig(CHAINCODE, optee_enclave.measurement.hex(), CHANNEL, ENDPOINT).encode()
    lines = run_guest(
        guest,
        f"""
t, data = session.invoke(abi.FOC_CMD_ENCLAVE_CREDENTIALS)
out("BEFORE", t, data.hex())
t, data = session.invoke(abi.FOC_CMD_ENCLAVE_CREATE, bytes.fromhex({again.hex()!r}))
out("RECREATE", t, data.hex())
try:
    session.invoke(abi.FOC_CMD_PANIC)
except Exception as exc:
    out("PANIC", type(exc).__name__)
session.close()
session = backend.open_session()
t, data = session.invoke(abi.FOC_CMD_ENCLAVE_CREDENTIALS)
out("AFTER", t, data.hex())
""",
    )
    expected = optee_enclave.credentials.encode().hex()
    assert lines["BEFORE"] == [str(abi.FOC_MSG_RESPONSE), expected]
    code = abi.decode_error(bytes.fromhex(lines["RECREATE"][1]))
    assert int(lines["RECREATE"][0]) == abi.FOC_MSG_ERROR and code.code == "EXISTS"
    assert lines["PANIC"] == ["TaCrashed"]
    assert lines["AFTER"] == [str(abi.FOC_MSG_RESPONSE), expected]


# -- confidential invocations ----------------------------------------------------------------------

GUEST_INVOKE = """
ledger = {k: None if v is None else bytes.fromhex(v) for k, v in json.loads(LEDGER_JSON).items()}
for request_hex in json.loads(REQUESTS_JSON):
    t, data = session.invoke(abi.FOC_CMD_CONFIDENTIAL_INVOKE, bytes.fromhex(request_hex))
    while t == abi.FOC_MSG_GET_STATE:
        key = abi.decode_get_state(data).decode()
        if key not in ledger:
            out("NEED", key.encode().hex())
            session.invoke(abi.FOC_CMD_ABORT)
            break
        value = ledger[key]
        t, data = session.invoke(abi.FOC_CMD_RESUME, abi.encode_state_answer(value))
    else:
        out("RESULT", t, data.hex() or "-")
        continue
    break
"""


def guest_invoke(
    guest, requests: list[bytes], ledger: dict[str, bytes | None], creator: Creator | None = None
) -> tuple[list[tuple[int, bytes]], str | None]:
    """Run confidential requests in the guest's TA, answering reads from `ledger` (None = absent).

    Returns the (message type, output) of each request, or stops at the first key `ledger` does
    not hold and returns it as the second element.
    """
    ledger_json = json.dumps({k: None if v is None else v.hex() for k, v in ledger.items()})
    # as the proxy sends them: FCI1, the confidential_request, the peer's creator (foc_ta.h)
    requests_json = json.dumps([abi.encode_confidential_invocation(r, creator).hex() for r in requests])
    body = f"LEDGER_JSON = {ledger_json!r}\nREQUESTS_JSON = {requests_json!r}\n" + GUEST_INVOKE
    lines_raw: list[tuple[int, bytes]] = []
    rc, text = guest.python(GUEST_PRELUDE + body + GUEST_EPILOGUE, timeout=300)
    assert rc == 0 and "DONE" in text, text[-4000:]
    need = None
    for line in text.splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "RESULT":
            t, data = rest.split()
            lines_raw.append((int(t), b"" if data == "-" else bytes.fromhex(data)))
        elif tag == "NEED":
            need = bytes.fromhex(rest.strip()).decode()
    return lines_raw, need


@dataclass
class GuestEnclave:
    """`ConfidentialEnclave` backed by the TA in the guest: reads are fetched as the TA asks (coffee
    reads no ranges: a range read would fail the guest script; tests/qemu/test_auction_optee.py runs
    range reads through the guest's foc-proxy)."""

    guest: object
    calls: int = 0
    reads: list[str] = field(default_factory=list)

    def invoke(
        self,
        confidential_request: bytes,
        get_state: Callable[[str], bytes | None],
        *,
        transaction_id: str = "",
        channel_id: str = "",
        creator: Creator | None = None,
        get_state_by_range: object = None,
    ) -> bytes:
        ledger: dict[str, bytes | None] = {}
        while True:  # deterministic re-execution lets us learn the reads one guest run at a time
            self.calls += 1
            results, need = guest_invoke(self.guest, [confidential_request], ledger, creator)
            if need is None:
                break
            self.reads.append(need)
            ledger[need] = get_state(need)
        ((msg_type, data),) = results
        if msg_type == abi.FOC_MSG_ERROR:
            err = abi.decode_error(data)
            raise ChaincodeError(err.code, err.message)
        assert msg_type == abi.FOC_MSG_CONFIDENTIAL_RESPONSE, msg_type
        return data


def make_request(
    creds: Credentials, args: tuple[bytes, ...], *, point: bytes | None = None
) -> tuple[bytes, bytes]:
    chaincode_pub = creds.attested_data.chaincode_pub
    eph = EC_P256.generate_private_key()
    eph_point = EC_P256.encode_point(eph)
    key = EC_P256.request_key(eph, chaincode_pub, ephemeral_point=eph_point, chaincode_point=chaincode_pub)
    response_key = os.urandom(32)
    sealed = EC_P256.seal(
        key, RequestPlaintext(CHANNEL, CHAINCODE, args, response_key).encode(), REQUEST_LABEL
    )
    return ConfidentialRequest(point or eph_point, sealed.nonce, sealed.ciphertext).encode(), response_key


def open_response(creds: Credentials, request: bytes, response_key: bytes, data: bytes):
    envelope = ConfidentialResponse.decode(data)
    EC_P256.verify(creds.attested_data.enclave_pub, envelope.signed_message, envelope.signature, what="TA")
    message = envelope.message()
    assert message.request_hash == sha256(request)
    assert message.enclave_id == enclave_id(creds.attested_data.enclave_pub)
    sealed = EncryptedResponse.decode(message.encrypted_response)
    plain = EC_P256.unseal(
        response_key, sealed.nonce, sealed.ciphertext, message.request_hash, what="response"
    )
    return ResponsePlaintext.decode(plain), message


def test_confidential_invocation_round_trips_on_optee(guest, optee_enclave) -> None:
    creds = optee_enclave.credentials
    create_req, create_key = make_request(creds, (b"create", b"alice", b"3"))
    [(t, data)], need = guest_invoke(guest, [create_req], {"alice": None})
    assert need is None and t == abi.FOC_MSG_CONFIDENTIAL_RESPONSE, abi.decode_error(data) if t == 100 else t
    answer, message = open_response(creds, create_req, create_key, data)
    assert (answer.status, answer.payload) == (200, b"OK")
    assert [(r.key, r.found, r.value_hash) for r in message.reads] == [("alice", False, sha256(b""))]
    (write,) = message.writes
    assert write.key == "alice" and not write.is_delete
    stored = StoredValue.decode(write.stored_value)
    assert len(stored.ciphertext) == len(b"3") + 16  # AES-GCM: plaintext length + tag
    ledger: dict[str, bytes | None] = {"alice": write.stored_value}

    add_req, add_key = make_request(creds, (b"add", b"alice", b"4"))
    query_req, query_key = make_request(creds, (b"query", b"alice"))
    exists_req, exists_key = make_request(creds, (b"create", b"alice", b"1"))
    bob_req, _ = make_request(creds, (b"query", b"bob"))
    reserved_req, reserved_key = make_request(creds, (b"create", b"~foc/request/00", b"1"))
    [(t1, d1), (t2, d2), (t3, d3), (t4, d4), (t5, d5)], need = guest_invoke(
        guest,
        [add_req, query_req, exists_req, bob_req, reserved_req],
        {**ledger, "bob": write.stored_value, "~foc/request/00": None},
    )
    added, added_msg = open_response(creds, add_req, add_key, d1)
    assert added.status == 200 and added_msg.reads[0].value_hash == sha256(write.stored_value)
    queried, _ = open_response(creds, query_req, query_key, d2)
    assert queried.payload == b"person: alice, number of consumed coffees: 3"
    exists, exists_msg = open_response(creds, exists_req, exists_key, d3)
    assert exists.status == 500 and exists.payload.startswith(b"EXISTS: ") and exists_msg.writes == ()
    # alice's ciphertext served as bob's value: bound to its key, it fails to authenticate
    assert t4 == abi.FOC_MSG_ERROR
    err = abi.decode_error(d4)
    assert err.code == "INCONSISTENT" and err.message == "state value for bob failed authentication"
    # the TA's own reserved-prefix check (the validator has another): a signed refusal, no writes
    reserved, reserved_msg = open_response(creds, reserved_req, reserved_key, d5)
    assert reserved.status == 500
    assert reserved.payload == b"BAD_ARGUMENT: state keys starting with ~foc/ are reserved"
    assert reserved_msg.writes == ()


def test_bad_client_input_is_a_structured_error_not_a_panic(guest, optee_enclave) -> None:
    creds = optee_enclave.credentials
    off_curve = b"\x04" + (1).to_bytes(32, "big") + (1).to_bytes(32, "big")
    bad_point, _ = make_request(creds, (b"query", b"alice"), point=off_curve)
    flipped, _ = make_request(creds, (b"query", b"alice"))
    flipped = flipped[:-1] + bytes([flipped[-1] ^ 1])
    good, good_key = make_request(creds, (b"query", b"nobody"))
    results, need = guest_invoke(guest, [bad_point, flipped, b"FCR1", good], {"nobody": None})
    codes = [abi.decode_error(d).code if t == abi.FOC_MSG_ERROR else t for t, d in results[:3]]
    assert codes == ["BAD_REQUEST"] * 3
    t, data = results[3]  # the TA is still alive and answers
    answer, _ = open_response(creds, good, good_key, data)
    assert answer.status == 500 and answer.payload.startswith(b"NOT_FOUND: ")


def test_dev_ledger_flow_with_the_optee_enclave(guest, optee_enclave, tmp_path) -> None:
    home = tmp_path / "foc-home"
    definition = define_chaincode(CHAINCODE, optee_enclave.measurement.hex(), CHANNEL, home=home)
    enroll_device("qemu", optee_enclave.device.public_key, home=home)
    ledger = DevLedger(tmp_path / "ledger.sqlite", channel=CHANNEL)
    definitions = DefinitionStore(home)
    enclave = GuestEnclave(guest)
    peer = DevPeer(
        ledger,
        {
            "ercc": EnclaveRegistry(definitions, DeviceStore(home)),  # real evidence: no insecure allowance
            CHAINCODE: ConfidentialChaincode(CHAINCODE, enclave, definitions),
        },
    )
    try:
        registered = peer.invoke(
            "ercc", ["registerEnclave", base64.b64encode(optee_enclave.credentials.encode())]
        )
        assert registered.committed, registered.response.message
        client = ConfidentialClient(
            definition,
            RegistryQuery(lambda args: peer.query("ercc", args).response),
            devices=[optee_enclave.device],
        )

        def submit(*args: str):
            pending = client.encrypt_request(list(args))
            result = peer.query(CHAINCODE, ["__invoke", pending.request])
            assert result.response.endorsed, result.response.message
            opened = client.open_response(pending, result.response.payload)
            if opened.ok:
                committed = peer.invoke(CHAINCODE, ["__endorse", pending.request, result.response.payload])
                assert committed.committed, committed.response.message
            return opened

        assert submit("create", "carol", "10").value() == b"OK"
        assert submit("add", "carol", "5").value() == b"OK"
        assert submit("query", "carol").value() == b"person: carol, number of consumed coffees: 15"
        stored = {k: v for (ns, k), (v, _) in ledger.state_dump().items() if ns == CHAINCODE}
        assert stored["carol"].startswith(b"FCS1")
        assert ledger.verify().ok
        assert enclave.reads.count("carol") == 3  # one state round trip per transaction
    finally:
        ledger.close()


def test_normal_world_cannot_obtain_valid_evidence_for_keys_it_chose(guest, optee_enclave) -> None:
    """The attack the design must stop: the untrusted normal world asks OP-TEE's attestation PTA
    directly for evidence over attested data with keys *it* chose (nonce = SHA-256 of that data).

    - PTA_ATTESTATION_HASH_TA_MEMORY (what the TA uses) refuses a normal-world caller;
    - PTA_ATTESTATION_GET_TA_SHDR_DIGEST answers a normal-world caller for our TA's UUID with any
      nonce, and its signature is genuine, but it signs the signed-header digest, not the TA-memory
      measurement pinned in the chaincode definition, so the verifier refuses the credentials; claiming
      the pinned measurement instead breaks the signature.
    """
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    from foc.confidential.formats import EVIDENCE_KIND_TA_MEMORY, AttestedData, Evidence
    from foc.registry.attestation import pss_padding, signed_digest

    attacker_enclave, attacker_chaincode = EC_P256.generate_private_key(), EC_P256.generate_private_key()
    forged = AttestedData(
        CHAINCODE,
        optee_enclave.measurement.hex(),
        CHANNEL,
        ENDPOINT,
        EC_P256.encode_point(attacker_enclave),
        EC_P256.encode_point(attacker_chaincode),
    ).encode()
    nonce = hashlib.sha256(forged).digest()
    lines = run_guest(
        guest,
        f"""
lib = backend._lib
sess = L._PaddedSession()
origin = c_uint32(0)
pta = L.TEEC_UUID.from_uuid(uuid.UUID(PTA_UUID))
rc = lib.TEEC_OpenSession(byref(backend._ctx), byref(sess), byref(pta), L.TEEC_LOGIN_PUBLIC,
                          None, None, byref(origin))
assert rc == 0, hex(rc)
nonce = bytes.fromhex({nonce.hex()!r})
nonce_buf = (c_uint8 * len(nonce)).from_buffer_copy(nonce)
out_buf = (c_uint8 * 1024)()

def call(cmd, first):
    op = L.TEEC_Operation()
    op.paramTypes = L.param_types(L.TEEC_MEMREF_TEMP_INPUT, L.TEEC_MEMREF_TEMP_INPUT,
                                  L.TEEC_MEMREF_TEMP_OUTPUT)
    op.params[0].tmpref.buffer = ctypes.cast(ctypes.pointer(first), c_void_p)
    op.params[0].tmpref.size = ctypes.sizeof(first)
    op.params[1].tmpref.buffer = ctypes.cast(nonce_buf, c_void_p)
    op.params[1].tmpref.size = len(nonce)
    op.params[2].tmpref.buffer = ctypes.cast(out_buf, c_void_p)
    op.params[2].tmpref.size = 1024
    o = c_uint32(0)
    rc = lib.TEEC_InvokeCommand(byref(sess), cmd, byref(op), byref(o))
    return rc, bytes(out_buf[: op.params[2].tmpref.size]) if rc == 0 else b""

ta_uuid = L.TEEC_UUID.from_uuid(uuid.UUID(abi.FOC_TA_UUID_STR))
rc, data = call(0x1, ta_uuid)  # PTA_ATTESTATION_GET_TA_SHDR_DIGEST
out("SHDR", hex(rc), data.hex() or "-")
rc, data = call(0x2, ta_uuid)  # PTA_ATTESTATION_HASH_TA_MEMORY: caller must be a TA
out("MEMORY", hex(rc), data.hex() or "-")
lib.TEEC_CloseSession(byref(sess))
""",
    )
    memory_rc, _ = lines["MEMORY"]
    assert memory_rc != "0x0", "the normal world obtained a TA-memory measurement signature"

    shdr_rc, shdr_hex = lines["SHDR"]
    assert shdr_rc == "0x0", "expected the PTA to answer GET_TA_SHDR_DIGEST for a normal-world caller"
    shdr = bytes.fromhex(shdr_hex)
    digest, signature = shdr[:32], shdr[32:]
    # The attacker really holds a genuine device signature over its chosen nonce ...
    optee_enclave.device.public_key.verify(
        signature, signed_digest(nonce, digest), pss_padding(), Prehashed(hashes.SHA256())
    )
    # ... but over the signed-header digest, which is not the pinned TA-memory measurement.
    assert digest != optee_enclave.measurement
    as_is = Credentials(forged, Evidence(EVIDENCE_KIND_TA_MEMORY, digest, signature).encode())
    with pytest.raises(AttestationError, match="measurement"):
        verify_credentials(as_is, optee_enclave.definition, [optee_enclave.device])
    relabelled = Credentials(
        forged, Evidence(EVIDENCE_KIND_TA_MEMORY, optee_enclave.measurement, signature).encode()
    )
    with pytest.raises(AttestationError):
        verify_credentials(relabelled, optee_enclave.definition, [optee_enclave.device])
    # The genuine enclave's credentials still verify: the refusals above are not a broken verifier.
    verify_credentials(optee_enclave.credentials, optee_enclave.definition, [optee_enclave.device])


def test_a_ta_claiming_another_version_is_refused_by_its_measurement(guest, optee_enclave) -> None:
    """The measurement check with genuine OP-TEE evidence: the normal world has the TA create an
    enclave whose config claims another chaincode version. Attested data and definition agree on
    that version and the PTA's signature is genuine, so only the measurement comparison can refuse.
    Last in the module: it replaces the enclave (force) that the tests above share."""
    claimed = "00" * 32
    config = EnclaveConfig(CHAINCODE, claimed, CHANNEL, ENDPOINT, force=True).encode()
    lines = run_guest(
        guest,
        f"""
t, data = session.invoke(abi.FOC_CMD_ENCLAVE_CREATE, bytes.fromhex({config.hex()!r}))
out("CREATE", t, data.hex())
""",
    )
    msg_type, creds_hex = lines["CREATE"]
    assert int(msg_type) == abi.FOC_MSG_RESPONSE, abi.decode_error(bytes.fromhex(creds_hex))
    creds = Credentials.decode(bytes.fromhex(creds_hex))
    assert creds.attested_data.chaincode_version == claimed
    assert creds.evidence.measurement == optee_enclave.measurement  # the PTA measured the real TA
    lying = ChaincodeDefinition(CHAINCODE, claimed, CHANNEL)
    refusal = f"TA measurement {optee_enclave.measurement.hex()} does not match"
    with pytest.raises(AttestationError, match=refusal):
        verify_credentials(creds, lying, [optee_enclave.device])
    # control: the same device and TA, with the true version, verify
    verify_credentials(optee_enclave.credentials, optee_enclave.definition, [optee_enclave.device])
