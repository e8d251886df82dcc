"""Every gRPC server FOC starts goes through foc.protocol.transport (issue 8, kind 7).

gRPC sets SO_REUSEPORT by default on Linux: a second server on a taken address starts and the
kernel splits the connections. `transport.server` never sets it and `transport.bind` refuses a
taken address; this test keeps every server, test server and bench on that path (a line that
must stay plain gRPC says so_reuseport on it, e.g. bench/reconnect.py, which older checkouts run).
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import grpc
import pytest

from foc.errors import ListenError
from foc.protocol import transport

REPO = Path(__file__).resolve().parents[2]
SERVER_CALLS = re.compile(r"grpc\.server\(|\.add_insecure_port\(|\.add_secure_port\(|grpc\.aio\.server\(")


def test_no_grpc_server_is_created_or_bound_outside_the_transport_module() -> None:
    offenders = []
    for folder in ("foc", "tests", "bench"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path.name.endswith(("_pb2.py", "_pb2_grpc.py")) or path == Path(transport.__file__):
                continue
            if path == Path(__file__).resolve():
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if SERVER_CALLS.search(line) and "so_reuseport" not in line:
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "use foc.protocol.transport.server / bind:\n" + "\n".join(offenders)


def test_bind_refuses_a_taken_address_whoever_holds_it() -> None:
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as gRPC's default does
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        server = transport.server(1, max_message_bytes=1024, thread_name_prefix="t")
        with pytest.raises(ListenError) as caught:
            transport.bind(server, f"127.0.0.1:{port}")
        assert "in use by another process" in caught.value.message and caught.value.hint
        with pytest.raises(ListenError):  # localhost: every address it resolves to is checked
            transport.bind(server, f"localhost:{port}")
    server.stop(None)


def test_bind_names_an_address_that_is_not_this_machines() -> None:
    server = transport.server(1, max_message_bytes=1024, thread_name_prefix="t")
    with pytest.raises(ListenError, match="cannot listen on '192.0.2.1:7052'"):  # TEST-NET-1
        transport.bind(server, "192.0.2.1:7052")
    server.stop(None)


def test_a_free_address_binds_and_port_zero_picks_one() -> None:
    server = transport.server(1, max_message_bytes=1024, thread_name_prefix="t")
    port = transport.bind(server, "127.0.0.1:0")
    assert port > 0
    server.start()
    again = transport.server(1, max_message_bytes=1024, thread_name_prefix="t")
    with pytest.raises(ListenError):
        transport.bind(again, f"127.0.0.1:{port}")
    server.stop(None).wait()
    again.stop(None)
    reuse = transport.server(1, max_message_bytes=1024, thread_name_prefix="t")
    assert transport.bind(reuse, f"127.0.0.1:{port}") == port  # free again once the first stopped
    reuse.stop(None)


def test_channel_options_bound_the_reconnect_back_off_and_the_message_size() -> None:
    options = dict(transport.channel_options(transport.PROXY_MESSAGE_BYTES))
    assert options["grpc.max_reconnect_backoff_ms"] <= 1000
    assert options["grpc.max_send_message_length"] == options["grpc.max_receive_message_length"]
    channel = grpc.insecure_channel("127.0.0.1:1", options=list(options.items()))
    channel.close()


def test_the_largest_legitimate_wrapper_proxy_messages_fit_the_cap_with_room() -> None:
    """PROXY_MESSAGE_BYTES is derived from the limits: the worst messages FOC sends both ways fit."""
    from foc.protocol import invocation_pb2 as pb
    from foc.protocol import limits
    from foc.protocol.result import InvocationResult, StateWrite

    key = "k" * (limits.FOC_MAX_KEY - 3)
    value = b"v" * (limits.FOC_MAX_WRITE_BYTES // limits.FOC_MAX_WRITES - limits.FOC_MAX_KEY)
    plaintext = InvocationResult(
        200,
        b"p" * limits.FOC_MAX_PAYLOAD,
        tuple(f"{i:03d}{key}" for i in range(limits.FOC_MAX_READS)),
        tuple(StateWrite(f"{i:03d}{key}", value) for i in range(limits.FOC_MAX_WRITES)),
    ).to_proto()
    confidential = InvocationResult(200, confidential_response=b"c" * limits.FOC_MAX_OUTPUT).to_proto()
    request = pb.InvocationRequest(
        function_name="f" * limits.FOC_MAX_FUNCTION,
        binary_arguments=[b"a" * limits.FOC_MAX_VALUE, b"b" * (limits.FOC_MAX_VALUE - 100)],
        transaction_id="t" * 64,
        channel_id="c" * limits.FOC_MAX_IDENTIFIER,
        chaincode_uuid=b"u" * 16,
    )
    answer = pb.GetStateResponse(raw_value=b"s" * limits.CONFIDENTIAL.state_value, found=True)
    for message in (
        pb.ChaincodeProxyMessage(invocation_response=plaintext),
        pb.ChaincodeProxyMessage(invocation_response=confidential),
        pb.ChaincodeWrapperMessage(invocation_request=request),
        pb.ChaincodeWrapperMessage(get_state_response=answer),
    ):
        assert message.ByteSize() * 1.5 < transport.PROXY_MESSAGE_BYTES
