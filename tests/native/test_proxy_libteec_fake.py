"""foc.tee.libteec on the host, against a test double of libteec over the native core.

tests/native/fake_libteec.c implements the GP TEE Client API entry points with OP-TEE's
struct layouts on top of libfoc_core.so, so the ctypes binding (layouts, shared memory,
MEMREF_PARTIAL_*, value params, error codes, SHORT_BUFFER) runs here; the qemu tier runs the
same binding against the real libteec.so.2.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from foc.errors import TaCrashed, TeeError
from foc.protocol.result import StateWrite
from foc.proxy.client import ProxyClient
from foc.proxy.config import ProxyConfig
from foc.proxy.server import ProxyServer
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
            f"-I{REPO / 'ta' / 'include'}", f"-I{REPO / 'ta' / 'native'}",
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
