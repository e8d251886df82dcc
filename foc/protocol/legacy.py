"""FOC's original (2019) plaintext protocol, as one adapter per side of the stream.

A transaction is *legacy* when its `InvocationRequest` has no `transaction_id` (FOC's wrapper never
sent one). It differs from the batch protocol in four places, all handled here and nowhere else:

* state answers are text: `GetStateResponse.value`, where "" means "not found";
* writes travel one by one as `PutStateRequest(key, value text)`, each acknowledged with "OK",
  before the final response (which then carries no write batch);
* the payload travels as text in `InvocationResponse.execution_response`;
* a failure ends the RPC with gRPC status UNKNOWN, details ``"<CODE>: <message>"`` and the
  trailing metadata ``foc-error-code: <CODE>`` (FOC's wrapper reads no error field).

`ProxySide` is used by foc.proxy.server, `WrapperSide` by foc.proxy.client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc

from foc.protocol import invocation_pb2 as pb
from foc.protocol.result import ERROR_METADATA_KEY, InvocationError, InvocationResult, StateWrite

#: The acknowledgement FOC's wrapper sends for each PutStateRequest.
ACK = "OK"


class LegacyProtocolError(Exception):
    """The other side broke the legacy protocol; `code` is an ErrorCode name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_legacy(request: pb.InvocationRequest) -> bool:
    """True for FOC's legacy transactions (no transaction id)."""
    return not request.transaction_id


class ProxySide:
    """The proxy's half: answers in FOC's shapes."""

    @staticmethod
    def state_value(answer: pb.GetStateResponse) -> bytes | None:
        """The value of a legacy state answer ("" = the key does not exist)."""
        return answer.value.encode() if answer.value else None

    @staticmethod
    def send_writes(
        result: InvocationResult,
        receive: Callable[[], pb.ChaincodeWrapperMessage],
    ) -> Iterator[pb.ChaincodeProxyMessage]:
        """Generator: one PutStateRequest per write, each awaiting the wrapper's "OK".

        Raises LegacyProtocolError (BAD_ARGUMENT for a value that is not text, PROTOCOL for a
        missing or wrong acknowledgement).
        """
        for w in result.writes:
            value = b"" if w.is_delete else w.value
            try:
                text = value.decode()
            except UnicodeDecodeError:
                raise LegacyProtocolError(
                    "BAD_ARGUMENT",
                    "a written value is not UTF-8 text; legacy FOC transactions carry text only",
                ) from None
            yield pb.ChaincodeProxyMessage(put_state_request=pb.PutStateRequest(key=w.key, value=text))
            msg = receive()
            kind = msg.WhichOneof("message_oneof")
            if kind != "put_state_response":
                raise LegacyProtocolError("PROTOCOL", f"expected put_state_response, got {kind or 'empty'}")
            if msg.put_state_response.acknowledgement != ACK:
                raise LegacyProtocolError("PROTOCOL", 'the wrapper did not acknowledge a PutState with "OK"')

    @staticmethod
    def response(result: InvocationResult) -> pb.InvocationResponse:
        """The final response: status, payload (also as text), reads; no write batch."""
        return pb.InvocationResponse(
            status=result.status,
            payload=result.payload,
            reads=[pb.KeyRead(key=k) for k in result.reads],
            execution_response=result.payload.decode("utf-8", errors="replace"),
        )

    @staticmethod
    def abort(context: grpc.ServicerContext, code: str, message: str) -> None:
        """End the RPC the way FOC's wrapper understands a failure (raises, as context.abort does)."""
        context.set_trailing_metadata(((ERROR_METADATA_KEY, code),))
        context.abort(grpc.StatusCode.UNKNOWN, f"{code}: {message}")


class WrapperSide:
    """The wrapper's half: asks and answers in FOC's shapes."""

    @staticmethod
    def state_answer(value: bytes | None) -> pb.GetStateResponse:
        """A state answer as text; LegacyProtocolError(BAD_ARGUMENT) for a value that is not text."""
        try:
            return pb.GetStateResponse(value=(value or b"").decode())
        except UnicodeDecodeError:
            raise LegacyProtocolError(
                "BAD_ARGUMENT", "a stored value is not UTF-8 text; legacy FOC transactions carry text only"
            ) from None

    @staticmethod
    def write(request: pb.PutStateRequest) -> tuple[StateWrite, pb.PutStateResponse]:
        """One legacy write and its acknowledgement."""
        return StateWrite(request.key, request.value.encode()), pb.PutStateResponse(acknowledgement=ACK)

    @staticmethod
    def result(resp: pb.InvocationResponse) -> InvocationResult:
        """The result of a legacy response: the payload may come as text only."""
        result = InvocationResult.from_proto(resp)
        if not result.payload and resp.execution_response:
            return InvocationResult(
                result.status,
                resp.execution_response.encode("utf-8"),
                result.reads,
                result.writes,
                result.error,
                result.confidential_response,
            )
        return result

    @staticmethod
    def structured_error(exc: grpc.RpcError) -> InvocationError | None:
        """The structured error a failed legacy RPC carries in its trailers, if any."""
        trailers = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
        for key, value in trailers or ():
            if key == ERROR_METADATA_KEY:
                details = exc.details() or ""
                prefix = f"{value}: "
                message = details[len(prefix) :] if details.startswith(prefix) else details
                return InvocationError(value, message)
        return None
