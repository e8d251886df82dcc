"""foc.tee.libteec on the host, against a test double of libteec over the native core.

tests/native/fake_libteec.c implements the GP TEE Client API entry points with OP-TEE's
struct layouts on top of libfoc_core.so, so the ctypes binding (layouts, shared memory,
MEMREF_PARTIAL_*, value params, error codes, SHORT_BUFFER) runs here; the qemu tier runs the
same binding against the real libteec.so.2.
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from foc.admin.definitions import ChaincodeDefinition
from foc.admin.devices import EnrolledDevice, load_public_key
from foc.client.confidential import ConfidentialClient
from foc.confidential.formats import Credentials, EnclaveConfig
from foc.errors import ChaincodeError, TaCrashed, TeeError
from foc.protocol.result import StateWrite
from foc.proxy.client import ProxyClient
from foc.proxy.config import ProxyConfig
from foc.proxy.server import ProxyServer
from foc.registry.attestation import verify_credentials
from foc.registry.ercc import RegisteredEnclave
from foc.tee import abi, libteec
from foc.tee.invocation import run_invocation

pytestmark = pytest.mark.native

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fake_libteec(tmp_path_factory) -> str:
    from foc.deploy.native_build import build_native_core

    core = build_native_core()
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("fake_libteec") / "libteec_fake.so"
    subprocess.run(
        [
            "cc", "-shared", "-fPIC", "-O1", "-Wall", "-Wextra", "-Werror",
            f"-I{REPO / 'ta' / 'include'}", f"-I{REPO / 'ta' / 'native'}", f"-I{REPO / 'ta'}",
            f"-I{REPO / 'ta' / 'core'}",
            str(Path(__file__).with_name("fake_libteec.c")),
            "-o", str(out), f"-L{core.parent}", "-lfoc_core", f"-Wl,-rpath,{core.parent}",
        ],
        check=True,
    )  # fmt: skip
    return str(out)


@pytest.fixture
def backend(fake_libteec, monkeypatch) -> Iterator[libteec.LibteecBackend]:
    monkeypatch.delenv("FAKE_TEEC_MAX_OUTPUT", raising=False)
    b = libteec.LibteecBackend(library=fake_libteec)
    yield b
    b.close()


def test_struct_layouts_agree_with_c(fake_libteec) -> None:
    lib = ctypes.CDLL(fake_libteec)
    lib.fake_teec_sizeof.restype = ctypes.c_size_t
    for i, struct in enumerate(
        [libteec.TEEC_UUID, libteec.TEEC_Context, libteec.TEEC_Session, libteec.TEEC_SharedMemory,
         libteec.TEEC_Parameter, libteec.TEEC_Operation]
    ):  # fmt: skip
        assert ctypes.sizeof(struct) == lib.fake_teec_sizeof(i), struct.__name__
    assert ctypes.sizeof(libteec.TEEC_Operation) == 112


def test_coffee_through_the_gp_client_api(backend, fake_libteec) -> None:
    counters = ctypes.CDLL(fake_libteec)
    world: dict[str, bytes] = {}
    s = backend.open_session()
    assert counters.fake_teec_open_sessions() == 1 and counters.fake_teec_allocated_shm() == 2
    r = run_invocation(s, [b"create", b"peter", b"5"], world.get)
    assert r.ok and r.writes == (StateWrite("peter", b"5"),)
    world["peter"] = b"5"
    q = run_invocation(s, [b"query", b"peter"], world.get)
    assert q.payload == b"person: peter, number of consumed coffees: 5"
    e = run_invocation(s, [b"create", b"peter", b"1"], world.get)
    assert e.error.code == "EXISTS"
    s.close()
    s.close()  # idempotent
    assert counters.fake_teec_open_sessions() == 0 and counters.fake_teec_allocated_shm() == 0


def test_large_request_and_output_use_the_shared_buffers(backend) -> None:
    s = backend.open_session()
    key = b"k" * abi.FOC_MAX_KEY
    r = run_invocation(s, [b"create", key, b"1"], lambda k: None)
    assert r.writes[0].key == key.decode()
    big = run_invocation(s, [b"create", b"x", b"9" * abi.FOC_MAX_VALUE], lambda k: None)
    assert big.error.code == "OVERFLOW"
    s.close()


def test_panic_is_ta_crashed_with_names_and_new_sessions_work(backend) -> None:
    a, b = backend.open_session(), backend.open_session()
    with pytest.raises(TaCrashed) as exc:
        a.invoke(abi.FOC_CMD_PANIC)
    assert "TEE_ERROR_TARGET_DEAD" in str(exc.value) and exc.value.code == 0xFFFF3024
    with pytest.raises(TaCrashed):
        run_invocation(b, [b"query", b"p"], lambda k: None)
    c = backend.open_session()
    assert run_invocation(c, [b"query", b"p"], lambda k: None).error.code == "NOT_FOUND"
    for s in (a, b, c):
        s.close()


def test_unknown_ta_uuid_names_the_error_and_gives_a_hint(fake_libteec) -> None:
    b = libteec.LibteecBackend("00000000-0000-0000-0000-000000000001", library=fake_libteec)
    with pytest.raises(TeeError) as exc:
        b.open_session()
    assert "TEEC_ERROR_ITEM_NOT_FOUND" in str(exc.value) and "TEEC_ORIGIN_TEE" in str(exc.value)
    assert "optee_armtz" in str(exc.value)
    b.close()


def test_short_buffer_on_invoke_grows_the_output_buffer(fake_libteec, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_TEEC_MAX_OUTPUT", "8")  # the session allocates an 8-byte output buffer
    b = libteec.LibteecBackend(library=fake_libteec)
    s = b.open_session()
    assert s.max_output == 8
    world = {"peter": b"7"}
    # INVOKE's GET_STATE output (4 + 5 bytes) does not fit: grown to the ABI maximum and retried
    r = run_invocation(s, [b"query", b"peter"], world.get)
    assert r.payload.endswith(b": 7")
    assert run_invocation(s, [b"query", b"peter"], world.get).ok
    s.close()
    b.close()


def test_short_buffer_on_resume_is_a_clear_error(fake_libteec, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_TEEC_MAX_OUTPUT", "16")
    b = libteec.LibteecBackend(library=fake_libteec)
    s = b.open_session()
    # GET_STATE (9 bytes) fits; the RESUME's response (~60 bytes) does not and is not retried
    with pytest.raises(TeeError, match="SHORT_BUFFER.*needs"):
        run_invocation(s, [b"query", b"peter"], {b"peter": b"7"}.get)
    s.close()
    b.close()


def test_proxy_with_the_optee_backend_keeps_its_pool(backend) -> None:
    config = ProxyConfig(listen="127.0.0.1:0", tee="optee", pool_size=2)
    with ProxyServer(config, backend) as server, ProxyClient(server.address) as c:
        world: dict[str, bytes] = {}
        r = c.invoke("create", ["peter", "0"], transaction_id="t0", get_state=world.get)
        world.update({w.key: w.value for w in r.writes})
        for i in range(20):
            r = c.invoke("add", ["peter", "1"], transaction_id=f"t{i}", get_state=world.get)
            assert r.ok
            world.update({w.key: w.value for w in r.writes})
        server.pool.crash_ta_for_test()
        assert c.invoke("query", ["peter"], transaction_id="q", get_state=world.get).payload.endswith(b": 20")
        h = c.health()
        assert (h.tee, h.sessions_opened_total, h.ta_restarts_total, h.transactions_total) == (
            "optee",
            4,
            1,
            22,
        )


# -- the confidential commands' parameter layouts, checked by the TA's own command table ----------

NATIVE_MEASUREMENT = hashlib.sha256(b"FOC native-insecure-v1: not a TEE, nothing measured").digest()
TEST_DEVICE_KEY = REPO / "ta" / "native" / "insecure_device_key.pub.pem"


def _shm(shm: ctypes.Structure) -> object:
    """A TEEC_SharedMemory* to one of a session's (padded) shared buffers."""
    return ctypes.cast(ctypes.byref(shm), ctypes.POINTER(libteec.TEEC_SharedMemory))


def _config(force: bool = False) -> bytes:
    return EnclaveConfig("coffee", NATIVE_MEASUREMENT.hex(), "dev", "fake:7052", force=force).encode()


def test_confidential_commands_through_the_gp_client_api(backend, storage: Path) -> None:
    """ENCLAVE_CREATE (MEMREF in, VALUE out, MEMREF out), ENCLAVE_CREDENTIALS (NONE, VALUE out,
    MEMREF out) and CONFIDENTIAL_INVOKE + RESUME in the binding's layouts reach the TA's table and
    are accepted there, as on OP-TEE."""
    s = backend.open_session()
    msg_type, out = s.invoke(abi.FOC_CMD_ENCLAVE_CREDENTIALS)
    assert msg_type == abi.FOC_MSG_ERROR and abi.decode_error(out).code == "NOT_FOUND"
    msg_type, created = s.invoke(abi.FOC_CMD_ENCLAVE_CREATE, _config())
    assert msg_type == abi.FOC_MSG_RESPONSE, abi.decode_error(created)
    assert s.invoke(abi.FOC_CMD_ENCLAVE_CREDENTIALS) == (abi.FOC_MSG_RESPONSE, created)
    creds = Credentials.decode(created)
    definition = ChaincodeDefinition("coffee", NATIVE_MEASUREMENT.hex(), "dev")
    device = EnrolledDevice("native", load_public_key(TEST_DEVICE_KEY.read_bytes()))
    verify_credentials(creds, definition, [device], allow_insecure_native=True)

    client = ConfidentialClient(definition, _OneEnclave(creds))
    world: dict[str, bytes] = {}
    for args, expected in ((["create", "ann", "2"], b"OK"), (["query", "ann"], b"coffees: 2")):
        pending = client.encrypt_request(args)
        invocation = abi.encode_confidential_invocation(pending.request, None)  # FCI1, no creator
        msg_type, out = s.invoke(abi.FOC_CMD_CONFIDENTIAL_INVOKE, invocation)
        while msg_type == abi.FOC_MSG_GET_STATE:
            key = abi.decode_get_state(out).decode()
            msg_type, out = s.invoke(abi.FOC_CMD_RESUME, abi.encode_state_answer(world.get(key)))
        assert msg_type == abi.FOC_MSG_CONFIDENTIAL_RESPONSE, abi.decode_error(out)
        result = client.open_response(pending, out)
        assert result.value().endswith(expected)
        world.update({w.key: w.stored_value for w in result.signed.writes})
    s.close()


class _OneEnclave:
    """A `RegistryReader` that knows one enclave's credentials."""

    def __init__(self, creds: Credentials) -> None:
        self._creds = creds

    def chaincode_encryption_key(self, chaincode_id: str) -> bytes:
        return self._creds.attested_data.chaincode_pub

    def enclave_credentials(self, chaincode_id: str, enclave_id: str) -> Credentials:
        return self._creds

    def enclave(self, chaincode_id: str, enclave_id: str) -> RegisteredEnclave:
        return RegisteredEnclave(enclave_id, self._creds)


@pytest.mark.parametrize(
    ("cmd", "types"),
    [
        # ENCLAVE_CREDENTIALS with an input memref (the layout of the other message commands)
        (abi.FOC_CMD_ENCLAVE_CREDENTIALS, (libteec.TEEC_MEMREF_PARTIAL_INPUT, libteec.TEEC_VALUE_OUTPUT,
                                           libteec.TEEC_MEMREF_PARTIAL_OUTPUT)),
        # ENCLAVE_CREATE without its input
        (abi.FOC_CMD_ENCLAVE_CREATE, (libteec.TEEC_NONE, libteec.TEEC_VALUE_OUTPUT,
                                      libteec.TEEC_MEMREF_PARTIAL_OUTPUT)),
        # CONFIDENTIAL_INVOKE without the VALUE_OUTPUT for the message type
        (abi.FOC_CMD_CONFIDENTIAL_INVOKE, (libteec.TEEC_MEMREF_PARTIAL_INPUT, libteec.TEEC_NONE,
                                           libteec.TEEC_MEMREF_PARTIAL_OUTPUT)),
        # INFO with a memref
        (abi.FOC_CMD_INFO, (libteec.TEEC_VALUE_OUTPUT, libteec.TEEC_MEMREF_PARTIAL_OUTPUT)),
    ],
)  # fmt: skip
def test_other_parameter_layouts_are_refused_by_the_tas_table(backend, storage: Path, cmd, types) -> None:
    """The fake lays any layout out for the TA; the TA's command table refuses the wrong ones with
    TEE_ERROR_BAD_PARAMETERS (origin TA) before touching a buffer, as OP-TEE's TA does."""
    s = backend.open_session()
    op = libteec.TEEC_Operation()
    op.paramTypes = libteec.param_types(*types)
    for i, t in enumerate(types):
        if t in (libteec.TEEC_MEMREF_PARTIAL_INPUT, libteec.TEEC_MEMREF_PARTIAL_OUTPUT):
            shm = s._in if t == libteec.TEEC_MEMREF_PARTIAL_INPUT else s._out
            op.params[i].memref.parent = _shm(shm)
            op.params[i].memref.size = 4
    with pytest.raises(TeeError) as caught:
        s._call(cmd, op)
    assert "TEEC_ERROR_BAD_PARAMETERS" in str(caught.value) and "TEEC_ORIGIN_TRUSTED_APP" in str(caught.value)
    assert list(storage.iterdir()) == []  # nothing was created
    s.close()


def test_a_partial_memref_outside_its_shared_memory_is_refused_by_the_api(backend) -> None:
    s = backend.open_session()
    op = libteec.TEEC_Operation()
    op.paramTypes = libteec.param_types(
        libteec.TEEC_MEMREF_PARTIAL_INPUT, libteec.TEEC_VALUE_OUTPUT, libteec.TEEC_MEMREF_PARTIAL_OUTPUT
    )
    op.params[0].memref.parent = _shm(s._in)
    op.params[0].memref.offset = s._in.s.size
    op.params[0].memref.size = 1
    op.params[2].memref.parent = _shm(s._out)
    op.params[2].memref.size = 16
    with pytest.raises(TeeError) as caught:
        s._call(abi.FOC_CMD_INVOKE, op)
    assert "TEEC_ERROR_BAD_PARAMETERS" in str(caught.value) and "TEEC_ORIGIN_API" in str(caught.value)
    s.close()


def test_proxy_serves_the_confidential_calls_over_the_gp_client_api(backend, storage: Path) -> None:
    config = ProxyConfig(listen="127.0.0.1:0", tee="optee", pool_size=1)
    with ProxyServer(config, backend) as server, ProxyClient(server.address) as c:
        created = c.create_enclave(_config())
        assert c.credentials() == created
        with pytest.raises(ChaincodeError) as caught:
            c.create_enclave(_config())
        assert caught.value.code == "EXISTS"
        creds = Credentials.decode(created)
        definition = ChaincodeDefinition("coffee", NATIVE_MEASUREMENT.hex(), "dev")
        client = ConfidentialClient(definition, _OneEnclave(creds))
        pending = client.encrypt_request(["create", "bo", "1"])
        response = c.invoke_confidential(pending.request, get_state=lambda key: None, transaction_id="t1")
        assert client.open_response(pending, response).value() == b"OK"
