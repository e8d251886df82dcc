"""Confidential requests, enclave lifecycle and the device key through foc-proxy, over a fake TA.

The fake TA treats a confidential_request as opaque bytes (as the proxy must): ``read:K`` asks
for K and answers ``signed:<stored value>``; ``refuse`` is a FOC_MSG_ERROR; ``clear`` answers
with a plain FOC_MSG_RESPONSE (an ABI violation for this command). The real crypto runs in
tests/native/test_proxy_confidential.py and tests/qemu/test_confidential_proxy.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import pytest
from proxy_fakes import FakeTaBackend, FakeTaSession

from foc.errors import ChaincodeError, LimitExceeded, TaCrashed, TeeError
from foc.protocol import invocation_pb2 as pb
from foc.protocol import invocation_pb2_grpc as pb_grpc
from foc.protocol import limits
from foc.protocol.context import Creator
from foc.protocol.result import InvocationError, InvocationResult
from foc.proxy.client import ProxyClient
from foc.proxy.config import ProxyConfig
from foc.proxy.server import ProxyServer
from foc.tee import abi
from foc.tee.device_key import DeviceKey

DER = b"0\x82fake-spki"


class ConfidentialSession(FakeTaSession):
    def invoke(self, cmd: int, data: bytes = b"") -> tuple[int, bytes]:
        backend: ConfidentialBackend = self.backend  # type: ignore[assignment]
        if self.instance != backend.instance:  # single-instance TA: a panic killed this session
            raise TaCrashed("TEE_ERROR_TARGET_DEAD", code=0xFFFF3024)
        if cmd == abi.FOC_CMD_ENCLAVE_CREATE:
            if backend.crash_next_create:
                backend.crash_next_create = False
                backend.instance += 1
                raise TaCrashed("TEE_ERROR_TARGET_DEAD", code=0xFFFF3024)
            if backend.credentials and not data.endswith(b"\x01"):
                return abi.FOC_MSG_ERROR, abi.encode_error(InvocationError("EXISTS", "use force"))
            backend.credentials = b"FCD1-" + data[:8]
            return abi.FOC_MSG_RESPONSE, backend.credentials
        if cmd == abi.FOC_CMD_ENCLAVE_CREDENTIALS:
            if not backend.credentials:
                return abi.FOC_MSG_ERROR, abi.encode_error(InvocationError("NOT_FOUND", "no enclave"))
            return abi.FOC_MSG_RESPONSE, backend.credentials
        if cmd == abi.FOC_CMD_CONFIDENTIAL_INVOKE:
            if not data.startswith(b"FCI1"):  # what the proxy sends: FCI1, the request, the creator
                return abi.FOC_MSG_ERROR, abi.encode_error(InvocationError("BAD_REQUEST", "not FCI1"))
            data, backend.creator = abi.decode_confidential_invocation(data)
            backend.requests.append(data)
            if data.startswith(b"read:"):
                self.pending = data[5:]
                return abi.FOC_MSG_GET_STATE, abi.encode_get_state(self.pending)
            if data == b"clear":
                return abi.FOC_MSG_RESPONSE, abi.encode_response(InvocationResult(200, b"x"))
            return abi.FOC_MSG_ERROR, abi.encode_error(
                InvocationError("BAD_REQUEST", "failed authentication")
            )
        if cmd == abi.FOC_CMD_RESUME and self.pending is not None and self.args is None:
            value = abi.decode_state_answer(data, abi.CONFIDENTIAL)  # stored values: 40 bytes more
            self.pending = None
            return abi.FOC_MSG_CONFIDENTIAL_RESPONSE, b"signed:" + (value or b"<absent>")
        return super().invoke(cmd, data)


class ConfidentialBackend(FakeTaBackend):
    def __init__(self) -> None:
        super().__init__()
        self.credentials = b""
        self.requests: list[bytes] = []
        self.creator: Creator | None = None
        self.crash_next_create = False
        self.key_reads = 0

    def open_session(self) -> ConfidentialSession:
        with self.lock:
            self.opened += 1
            return ConfidentialSession(self, self.instance)

    def device_key(self) -> DeviceKey:
        self.key_reads += 1
        return DeviceKey(DER, 0x70414930, "optee-pta")


class NoKeyBackend(FakeTaBackend):
    pass


@pytest.fixture
def backend() -> ConfidentialBackend:
    return ConfidentialBackend()


def serve(backend: FakeTaBackend) -> ProxyServer:
    server = ProxyServer(ProxyConfig(listen="127.0.0.1:0", tee="native", pool_size=2), backend)
    server.start()
    return server


@pytest.fixture
def client(backend: ConfidentialBackend) -> Iterator[ProxyClient]:
    server = serve(backend)
    with ProxyClient(server.address, default_timeout=10) as c:
        yield c
    server.stop(grace=0.5)


def test_confidential_request_relays_state_and_returns_the_confidential_response(
    client: ProxyClient, backend: ConfidentialBackend
) -> None:
    asked: list[str] = []
    state = {"k1": b"ciphertext"}

    def get_state(key: str) -> bytes | None:
        asked.append(key)
        return state.get(key)

    opened = client.health().sessions_opened_total
    for _ in range(3):
        out = client.invoke_confidential(b"read:k1", get_state=get_state, transaction_id="tx-c")
        assert out == b"signed:ciphertext"
    assert (
        client.invoke_confidential(b"read:k2", get_state=get_state, transaction_id="t") == b"signed:<absent>"
    )
    assert asked == ["k1", "k1", "k1", "k2"]
    assert backend.requests[0] == b"read:k1"  # passed through unchanged
    assert client.health().sessions_opened_total == opened  # no OpenSession per transaction


def test_ta_refusal_is_a_structured_error_and_the_proxy_keeps_serving(client: ProxyClient) -> None:
    with pytest.raises(ChaincodeError) as err:
        client.invoke_confidential(b"tampered", get_state=lambda k: None, transaction_id="tx")
    assert err.value.code == "BAD_REQUEST" and "authentication" in err.value.reason
    assert client.invoke_confidential(b"read:a", get_state=lambda k: b"v", transaction_id="tx") == b"signed:v"


def test_plain_response_to_a_confidential_request_is_a_tee_failure(client: ProxyClient) -> None:
    with pytest.raises(ChaincodeError) as err:
        client.invoke_confidential(b"clear", get_state=lambda k: None, transaction_id="tx")
    assert err.value.code == "TEE_FAILURE" and "message type" in err.value.reason


@pytest.mark.parametrize(
    ("extra", "code", "fragment"),
    [
        ({"function_name": "get"}, pb.BAD_REQUEST, "encrypted"),
        ({"arguments": ["k"]}, pb.BAD_REQUEST, "encrypted"),
        ({"binary_arguments": [b"k"]}, pb.BAD_REQUEST, "encrypted"),
        ({"chaincode_uuid": b"\x00" * 16}, pb.UNKNOWN_CHAINCODE, "serves TA"),
        ({"confidential_request": b"x" * (abi.FOC_MAX_REQUEST + 1)}, pb.LIMIT, "limit"),
    ],
)
def test_confidential_request_with_clear_fields_or_too_large_is_refused(
    client: ProxyClient, backend: ConfidentialBackend, extra: dict, code: int, fragment: str
) -> None:
    fields = {"transaction_id": "tx", "confidential_request": b"read:k", **extra}
    stub = pb_grpc.InvocationStub(grpc.insecure_channel(client.address))
    (answer,) = stub.TransactionInvocation(
        iter([pb.ChaincodeWrapperMessage(invocation_request=pb.InvocationRequest(**fields))]), timeout=10
    )
    error = answer.invocation_response.error
    assert error.code == code and fragment in error.message
    assert backend.requests == []  # the TA never saw it


def test_legacy_stream_cannot_carry_a_confidential_request(client: ProxyClient) -> None:
    stub = pb_grpc.InvocationStub(grpc.insecure_channel(client.address))
    request = pb.InvocationRequest(confidential_request=b"read:k")
    with pytest.raises(grpc.RpcError) as err:
        list(
            stub.TransactionInvocation(
                iter([pb.ChaincodeWrapperMessage(invocation_request=request)]), timeout=10
            )
        )
    assert "BAD_REQUEST" in err.value.details() and "transaction_id" in err.value.details()


def test_get_state_failure_cancels_and_aborts_the_ta(
    client: ProxyClient, backend: ConfidentialBackend
) -> None:
    def failing(key: str) -> bytes | None:
        raise RuntimeError("ledger down")

    with pytest.raises(RuntimeError):
        client.invoke_confidential(b"read:k", get_state=failing, transaction_id="tx")
    deadline = time.monotonic() + 5
    while backend.aborts == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert backend.aborts == 1
    assert client.invoke_confidential(b"read:k", get_state=lambda k: b"v", transaction_id="tx") == b"signed:v"


# -- issue 8, kind 5: the state value bound counts the ciphertext overhead ------------------------

STORED_AT_LIMIT = b"s" * (abi.FOC_MAX_VALUE + abi.FOC_CONF_STATE_OVERHEAD)  # 65576 bytes


def test_a_stored_value_at_the_confidential_limit_is_read_back(client: ProxyClient) -> None:
    """The instance: the proxy refused any stored value over 65536 bytes though the TA accepts
    65536 + 40, so a chaincode that wrote a 65,500-byte value could never read it back."""
    out = client.invoke_confidential(
        b"read:big", get_state={"big": STORED_AT_LIMIT}.get, transaction_id="tx-big"
    )
    assert out == b"signed:" + STORED_AT_LIMIT
    assert len(STORED_AT_LIMIT) == limits.CONFIDENTIAL.state_value > limits.PLAINTEXT.state_value


def test_one_byte_past_the_confidential_limit_is_limit_naming_it(
    client: ProxyClient, backend: ConfidentialBackend
) -> None:
    with pytest.raises(LimitExceeded) as caught:  # found by the client, before it sends the value
        client.invoke_confidential(
            b"read:big", get_state={"big": STORED_AT_LIMIT + b"s"}.get, transaction_id="tx-over"
        )
    assert "limit 65576 (FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD)" in caught.value.reason
    assert caught.value.code == "LIMIT" and caught.value.exit_code == 9
    # and by the proxy itself, for a wrapper that skips the client's check
    stub = pb_grpc.InvocationStub(grpc.insecure_channel(client.address))
    first = pb.InvocationRequest(transaction_id="tx-raw", confidential_request=b"read:big")
    answers = [
        pb.ChaincodeWrapperMessage(invocation_request=first),
        pb.ChaincodeWrapperMessage(
            get_state_response=pb.GetStateResponse(raw_value=STORED_AT_LIMIT + b"s", found=True)
        ),
    ]
    replies = list(stub.TransactionInvocation(iter(answers), timeout=10))
    error = replies[-1].invocation_response.error
    assert error.code == pb.LIMIT and "limit 65576 (FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD)" in error.message
    assert client.invoke_confidential(b"read:k", get_state=lambda k: b"v", transaction_id="tx") == b"signed:v"


def test_enclave_create_credentials_exists_and_force(client: ProxyClient) -> None:
    with pytest.raises(ChaincodeError) as err:
        client.credentials()
    assert err.value.code == "NOT_FOUND"
    first = client.create_enclave(b"FEC1-cfg\x00")
    assert client.credentials() == first
    with pytest.raises(ChaincodeError) as err:
        client.create_enclave(b"FEC1-cfg\x00")
    assert err.value.code == "EXISTS"
    assert client.create_enclave(b"FEC1-new\x01") != first
    with pytest.raises(ChaincodeError) as err:
        client.create_enclave(b"")
    assert err.value.code == "BAD_REQUEST"


def test_enclave_command_on_a_ta_that_died_earlier_is_retried_once_on_a_reopened_session(
    client: ProxyClient, backend: ConfidentialBackend
) -> None:
    backend.instance += 1  # another client panicked the TA: every pooled session is dead
    assert client.create_enclave(b"FEC1-cfg\x00").startswith(b"FCD1-")
    assert client.health().ta_restarts_total == 1


def test_ta_crashing_twice_during_create_is_structured_and_the_pool_recovers(
    client: ProxyClient, backend: ConfidentialBackend
) -> None:
    backend.instance += 1  # dead sessions, and the create itself crashes the new instance
    backend.crash_next_create = True
    with pytest.raises(ChaincodeError) as err:
        client.create_enclave(b"FEC1-cfg\x00")
    assert err.value.code == "TA_CRASHED"
    assert client.health().ta_restarts_total == 2
    assert client.create_enclave(b"FEC1-cfg\x00").startswith(b"FCD1-")


def test_device_key_is_read_once_and_cached(client: ProxyClient, backend: ConfidentialBackend) -> None:
    for _ in range(3):
        info = client.device_key_info()
        assert (info.public_key_der, info.kind, info.tee_algorithm) == (DER, "optee-pta", 0x70414930)
    assert backend.key_reads == 1


def test_device_key_unavailable_is_a_structured_error() -> None:
    class Failing(ConfidentialBackend):
        def device_key(self) -> DeviceKey:
            raise TeeError("TEEC_OpenSession(attestation PTA) failed: TEEC_ERROR_ITEM_NOT_FOUND")

    for backend in (NoKeyBackend(), Failing()):
        server = serve(backend)
        try:
            with ProxyClient(server.address, default_timeout=10) as c:
                with pytest.raises(ChaincodeError) as err:
                    c.device_key()
                assert err.value.code == "TEE_FAILURE"
                assert c.health().serving
        finally:
            server.stop(grace=0.5)
