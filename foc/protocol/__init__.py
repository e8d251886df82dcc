"""The wrapper <-> proxy protocol (invocation.proto) and its generated code."""

from foc.protocol import invocation_pb2 as pb
from foc.protocol import invocation_pb2_grpc as pb_grpc

__all__ = ["pb", "pb_grpc"]
