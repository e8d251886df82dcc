from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_UNSPECIFIED: _ClassVar[ErrorCode]
    BAD_REQUEST: _ClassVar[ErrorCode]
    UNKNOWN_FUNCTION: _ClassVar[ErrorCode]
    ARG_COUNT: _ClassVar[ErrorCode]
    BAD_ARGUMENT: _ClassVar[ErrorCode]
    LIMIT: _ClassVar[ErrorCode]
    EXISTS: _ClassVar[ErrorCode]
    NOT_FOUND: _ClassVar[ErrorCode]
    OVERFLOW: _ClassVar[ErrorCode]
    SEQUENCE: _ClassVar[ErrorCode]
    NO_MEMORY: _ClassVar[ErrorCode]
    INTERNAL: _ClassVar[ErrorCode]
    INCONSISTENT: _ClassVar[ErrorCode]
    DENIED: _ClassVar[ErrorCode]
    UNTRUSTED: _ClassVar[ErrorCode]
    TA_CRASHED: _ClassVar[ErrorCode]
    TEE_FAILURE: _ClassVar[ErrorCode]
    PROTOCOL: _ClassVar[ErrorCode]
    UNKNOWN_CHAINCODE: _ClassVar[ErrorCode]
    BUSY: _ClassVar[ErrorCode]

class KeyTransferStep(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_TRANSFER_UNSPECIFIED: _ClassVar[KeyTransferStep]
    JOIN: _ClassVar[KeyTransferStep]
    EXPORT: _ClassVar[KeyTransferStep]
    IMPORT: _ClassVar[KeyTransferStep]
ERROR_UNSPECIFIED: ErrorCode
BAD_REQUEST: ErrorCode
UNKNOWN_FUNCTION: ErrorCode
ARG_COUNT: ErrorCode
BAD_ARGUMENT: ErrorCode
LIMIT: ErrorCode
EXISTS: ErrorCode
NOT_FOUND: ErrorCode
OVERFLOW: ErrorCode
SEQUENCE: ErrorCode
NO_MEMORY: ErrorCode
INTERNAL: ErrorCode
INCONSISTENT: ErrorCode
DENIED: ErrorCode
UNTRUSTED: ErrorCode
TA_CRASHED: ErrorCode
TEE_FAILURE: ErrorCode
PROTOCOL: ErrorCode
UNKNOWN_CHAINCODE: ErrorCode
BUSY: ErrorCode
KEY_TRANSFER_UNSPECIFIED: KeyTransferStep
JOIN: KeyTransferStep
EXPORT: KeyTransferStep
IMPORT: KeyTransferStep

class ChaincodeWrapperMessage(_message.Message):
    __slots__ = ("invocation_request", "get_state_response", "put_state_response", "get_state_by_range_response")
    INVOCATION_REQUEST_FIELD_NUMBER: _ClassVar[int]
    GET_STATE_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    PUT_STATE_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    GET_STATE_BY_RANGE_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    invocation_request: InvocationRequest
    get_state_response: GetStateResponse
    put_state_response: PutStateResponse
    get_state_by_range_response: GetStateByRangeResponse
    def __init__(self, invocation_request: _Optional[_Union[InvocationRequest, _Mapping]] = ..., get_state_response: _Optional[_Union[GetStateResponse, _Mapping]] = ..., put_state_response: _Optional[_Union[PutStateResponse, _Mapping]] = ..., get_state_by_range_response: _Optional[_Union[GetStateByRangeResponse, _Mapping]] = ...) -> None: ...

class ChaincodeProxyMessage(_message.Message):
    __slots__ = ("invocation_response", "get_state_request", "put_state_request", "get_state_by_range_request")
    INVOCATION_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    GET_STATE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    PUT_STATE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    GET_STATE_BY_RANGE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    invocation_response: InvocationResponse
    get_state_request: GetStateRequest
    put_state_request: PutStateRequest
    get_state_by_range_request: GetStateByRangeRequest
    def __init__(self, invocation_response: _Optional[_Union[InvocationResponse, _Mapping]] = ..., get_state_request: _Optional[_Union[GetStateRequest, _Mapping]] = ..., put_state_request: _Optional[_Union[PutStateRequest, _Mapping]] = ..., get_state_by_range_request: _Optional[_Union[GetStateByRangeRequest, _Mapping]] = ...) -> None: ...

class InvocationRequest(_message.Message):
    __slots__ = ("chaincode_uuid", "function_name", "arguments", "transaction_id", "channel_id", "binary_arguments", "confidential_request", "creator_msp_id", "creator_id_bytes", "transient")
    CHAINCODE_UUID_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    BINARY_ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENTIAL_REQUEST_FIELD_NUMBER: _ClassVar[int]
    CREATOR_MSP_ID_FIELD_NUMBER: _ClassVar[int]
    CREATOR_ID_BYTES_FIELD_NUMBER: _ClassVar[int]
    TRANSIENT_FIELD_NUMBER: _ClassVar[int]
    chaincode_uuid: bytes
    function_name: str
    arguments: _containers.RepeatedScalarFieldContainer[str]
    transaction_id: str
    channel_id: str
    binary_arguments: _containers.RepeatedScalarFieldContainer[bytes]
    confidential_request: bytes
    creator_msp_id: str
    creator_id_bytes: bytes
    transient: _containers.RepeatedCompositeFieldContainer[TransientEntry]
    def __init__(self, chaincode_uuid: _Optional[bytes] = ..., function_name: _Optional[str] = ..., arguments: _Optional[_Iterable[str]] = ..., transaction_id: _Optional[str] = ..., channel_id: _Optional[str] = ..., binary_arguments: _Optional[_Iterable[bytes]] = ..., confidential_request: _Optional[bytes] = ..., creator_msp_id: _Optional[str] = ..., creator_id_bytes: _Optional[bytes] = ..., transient: _Optional[_Iterable[_Union[TransientEntry, _Mapping]]] = ...) -> None: ...

class TransientEntry(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: bytes
    def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...

class GetStateRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class GetStateResponse(_message.Message):
    __slots__ = ("value", "raw_value", "found")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    RAW_VALUE_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    value: str
    raw_value: bytes
    found: bool
    def __init__(self, value: _Optional[str] = ..., raw_value: _Optional[bytes] = ..., found: bool = ...) -> None: ...

class GetStateByRangeRequest(_message.Message):
    __slots__ = ("start_key", "end_key")
    START_KEY_FIELD_NUMBER: _ClassVar[int]
    END_KEY_FIELD_NUMBER: _ClassVar[int]
    start_key: str
    end_key: str
    def __init__(self, start_key: _Optional[str] = ..., end_key: _Optional[str] = ...) -> None: ...

class GetStateByRangeResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[StateEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[StateEntry, _Mapping]]] = ...) -> None: ...

class StateEntry(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: bytes
    def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...

class PutStateRequest(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class PutStateResponse(_message.Message):
    __slots__ = ("acknowledgement",)
    ACKNOWLEDGEMENT_FIELD_NUMBER: _ClassVar[int]
    acknowledgement: str
    def __init__(self, acknowledgement: _Optional[str] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: ErrorCode
    message: str
    def __init__(self, code: _Optional[_Union[ErrorCode, str]] = ..., message: _Optional[str] = ...) -> None: ...

class KeyRead(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class KeyWrite(_message.Message):
    __slots__ = ("key", "value", "is_delete")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    IS_DELETE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: bytes
    is_delete: bool
    def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ..., is_delete: bool = ...) -> None: ...

class RangeRead(_message.Message):
    __slots__ = ("start_key", "end_key")
    START_KEY_FIELD_NUMBER: _ClassVar[int]
    END_KEY_FIELD_NUMBER: _ClassVar[int]
    start_key: str
    end_key: str
    def __init__(self, start_key: _Optional[str] = ..., end_key: _Optional[str] = ...) -> None: ...

class InvocationResponse(_message.Message):
    __slots__ = ("execution_response", "status", "payload", "error", "reads", "writes", "confidential_response", "ranges")
    EXECUTION_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    READS_FIELD_NUMBER: _ClassVar[int]
    WRITES_FIELD_NUMBER: _ClassVar[int]
    CONFIDENTIAL_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    RANGES_FIELD_NUMBER: _ClassVar[int]
    execution_response: str
    status: int
    payload: bytes
    error: Error
    reads: _containers.RepeatedCompositeFieldContainer[KeyRead]
    writes: _containers.RepeatedCompositeFieldContainer[KeyWrite]
    confidential_response: bytes
    ranges: _containers.RepeatedCompositeFieldContainer[RangeRead]
    def __init__(self, execution_response: _Optional[str] = ..., status: _Optional[int] = ..., payload: _Optional[bytes] = ..., error: _Optional[_Union[Error, _Mapping]] = ..., reads: _Optional[_Iterable[_Union[KeyRead, _Mapping]]] = ..., writes: _Optional[_Iterable[_Union[KeyWrite, _Mapping]]] = ..., confidential_response: _Optional[bytes] = ..., ranges: _Optional[_Iterable[_Union[RangeRead, _Mapping]]] = ...) -> None: ...

class HealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ("serving", "tee", "version", "sessions_open", "sessions_opened_total", "transactions_total", "ta_restarts_total", "ta_abi_version", "tas")
    SERVING_FIELD_NUMBER: _ClassVar[int]
    TEE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_OPEN_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_OPENED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    TA_RESTARTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    TA_ABI_VERSION_FIELD_NUMBER: _ClassVar[int]
    TAS_FIELD_NUMBER: _ClassVar[int]
    serving: bool
    tee: str
    version: str
    sessions_open: int
    sessions_opened_total: int
    transactions_total: int
    ta_restarts_total: int
    ta_abi_version: int
    tas: _containers.RepeatedCompositeFieldContainer[TaHealth]
    def __init__(self, serving: bool = ..., tee: _Optional[str] = ..., version: _Optional[str] = ..., sessions_open: _Optional[int] = ..., sessions_opened_total: _Optional[int] = ..., transactions_total: _Optional[int] = ..., ta_restarts_total: _Optional[int] = ..., ta_abi_version: _Optional[int] = ..., tas: _Optional[_Iterable[_Union[TaHealth, _Mapping]]] = ...) -> None: ...

class TaHealth(_message.Message):
    __slots__ = ("uuid", "name", "is_default", "sessions_open", "sessions_opened_total", "transactions_total", "ta_restarts_total")
    UUID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_OPEN_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_OPENED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    TA_RESTARTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    uuid: bytes
    name: str
    is_default: bool
    sessions_open: int
    sessions_opened_total: int
    transactions_total: int
    ta_restarts_total: int
    def __init__(self, uuid: _Optional[bytes] = ..., name: _Optional[str] = ..., is_default: bool = ..., sessions_open: _Optional[int] = ..., sessions_opened_total: _Optional[int] = ..., transactions_total: _Optional[int] = ..., ta_restarts_total: _Optional[int] = ...) -> None: ...

class CreateEnclaveRequest(_message.Message):
    __slots__ = ("chaincode_uuid", "enclave_config")
    CHAINCODE_UUID_FIELD_NUMBER: _ClassVar[int]
    ENCLAVE_CONFIG_FIELD_NUMBER: _ClassVar[int]
    chaincode_uuid: bytes
    enclave_config: bytes
    def __init__(self, chaincode_uuid: _Optional[bytes] = ..., enclave_config: _Optional[bytes] = ...) -> None: ...

class GetCredentialsRequest(_message.Message):
    __slots__ = ("chaincode_uuid",)
    CHAINCODE_UUID_FIELD_NUMBER: _ClassVar[int]
    chaincode_uuid: bytes
    def __init__(self, chaincode_uuid: _Optional[bytes] = ...) -> None: ...

class EnclaveCredentialsResponse(_message.Message):
    __slots__ = ("credentials", "error")
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    credentials: bytes
    error: Error
    def __init__(self, credentials: _Optional[bytes] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class GetDeviceKeyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeviceKeyResponse(_message.Message):
    __slots__ = ("public_key_der", "tee_algorithm", "kind", "error")
    PUBLIC_KEY_DER_FIELD_NUMBER: _ClassVar[int]
    TEE_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    public_key_der: bytes
    tee_algorithm: int
    kind: str
    error: Error
    def __init__(self, public_key_der: _Optional[bytes] = ..., tee_algorithm: _Optional[int] = ..., kind: _Optional[str] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class KeyTransferRequest(_message.Message):
    __slots__ = ("chaincode_uuid", "step", "message")
    CHAINCODE_UUID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    chaincode_uuid: bytes
    step: KeyTransferStep
    message: bytes
    def __init__(self, chaincode_uuid: _Optional[bytes] = ..., step: _Optional[_Union[KeyTransferStep, str]] = ..., message: _Optional[bytes] = ...) -> None: ...

class KeyTransferResponse(_message.Message):
    __slots__ = ("message", "error")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    message: bytes
    error: Error
    def __init__(self, message: _Optional[bytes] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...
