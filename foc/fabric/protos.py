"""The official generated Fabric messages (`hyperledger-fabric-protos`), imported in one place.

The generated modules ship without type stubs; they are re-exported as `Any` so the rest of
`foc.fabric` type-checks. Annotate message values with `google.protobuf.message.Message`.
"""

from __future__ import annotations

from typing import Any

from fabric_protos.common import common_pb2
from fabric_protos.ledger.queryresult import kv_query_result_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import (
    chaincode_pb2,
    chaincode_shim_pb2,
    chaincode_shim_pb2_grpc,
    proposal_pb2,
    proposal_response_pb2,
)

common: Any = common_pb2  # Header, ChannelHeader, SignatureHeader, HeaderType
queryresult: Any = kv_query_result_pb2  # KV
identities: Any = identities_pb2  # SerializedIdentity
chaincode: Any = chaincode_pb2  # ChaincodeID, ChaincodeInput, ChaincodeSpec, ChaincodeAdditionalParams
shim: Any = chaincode_shim_pb2  # GetState, PutState, ..., QueryResponse
shim_grpc: Any = chaincode_shim_pb2_grpc  # ChaincodeServicer, add_ChaincodeServicer_to_server
proposal: Any = proposal_pb2  # SignedProposal, Proposal, ChaincodeProposalPayload
proposal_response: Any = proposal_response_pb2  # Response
ChaincodeMessage: Any = shim.ChaincodeMessage
