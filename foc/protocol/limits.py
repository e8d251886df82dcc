"""The TA's limits, per mode: generated from ta/include/foc_ta.h, do not edit.

Regenerate with `python -m foc.protocol.codegen` (its --check runs in scripts/test). The header is
the single source of truth (docs/limits.md explains each bound). Every hop that checks a size
imports it from here: the TA ABI codec (foc.tee.abi), the proxy, the proxy client, the wrapper,
the confidential formats, the CaaS shim and the gateway client (the last ones through
foc.protocol.sizes and foc.protocol.transport).
"""

from __future__ import annotations

from dataclasses import dataclass

FOC_MAX_ARGS = 16  # including the function name
FOC_MAX_FUNCTION = 64  # bytes of the function name
FOC_MAX_KEY = 256  # bytes of a state key (simple or composite, see above)
FOC_MAX_VALUE = 65536  # bytes of one state value or argument
FOC_MAX_REQUEST = 131072  # encoded request
FOC_MAX_PAYLOAD = 65536  # response payload / error message
FOC_MAX_READS = 64  # distinct keys read by one invocation
FOC_MAX_WRITES = 64  # distinct keys written by one invocation
FOC_MAX_CACHE_BYTES = 131072  # sum of cached read values in one invocation
FOC_MAX_WRITE_BYTES = 131072  # sum of written keys + values in one invocation
FOC_MAX_OUTPUT = 393216  # largest output any command produces
FOC_MAX_IDENTIFIER = 256  # chaincode id, version, channel id, host endpoint (non-empty)
FOC_MAX_TRUSTED_DEVICES = 16  # device keys in one chaincode's key policy
FOC_MAX_DEVICE_KEY = 1024  # DER SubjectPublicKeyInfo of a device attestation key (RSA <= 4096)
FOC_MAX_MSP_ID = 256  # bytes of the creator's MSP id
FOC_MAX_CERTIFICATE = 8192  # bytes of the creator's certificate (SerializedIdentity.id_bytes)
FOC_MAX_TRANSIENT = 16  # transient entries in one request (key 1..FOC_MAX_KEY, value <= FOC_MAX_VALUE)
FOC_MAX_RANGES = 8  # distinct ranges read by one invocation
FOC_MAX_RANGE_ENTRIES = 64  # entries in one range answer
FOC_MAX_RANGE_BYTES = 65536  # sum of keys + values of all range answers in one invocation
FOC_CONF_STATE_OVERHEAD = 40  # stored_value = plaintext + this (magic, nonce, lengths, GCM tag)


@dataclass(frozen=True)
class Limits:
    """The bounds one mode of invocation puts on what crosses the wrapper <-> proxy <-> TA path.

    Sizes are in bytes. `state_value` is what a GetState answer (or a range entry) may carry (the
    stored value); in confidential mode that is the ciphertext, FOC_CONF_STATE_OVERHEAD bytes more
    than the plaintext bound `value`.
    """

    mode: str
    args: int = FOC_MAX_ARGS
    function: int = FOC_MAX_FUNCTION
    key: int = FOC_MAX_KEY
    value: int = FOC_MAX_VALUE
    request: int = FOC_MAX_REQUEST
    payload: int = FOC_MAX_PAYLOAD
    reads: int = FOC_MAX_READS
    writes: int = FOC_MAX_WRITES
    cache_bytes: int = FOC_MAX_CACHE_BYTES
    write_bytes: int = FOC_MAX_WRITE_BYTES
    output: int = FOC_MAX_OUTPUT
    identifier: int = FOC_MAX_IDENTIFIER
    msp_id: int = FOC_MAX_MSP_ID
    certificate: int = FOC_MAX_CERTIFICATE
    transient: int = FOC_MAX_TRANSIENT
    ranges: int = FOC_MAX_RANGES
    range_entries: int = FOC_MAX_RANGE_ENTRIES
    range_bytes: int = FOC_MAX_RANGE_BYTES
    state_value: int = FOC_MAX_VALUE
    #: the header's name for `state_value`, as the errors quote it
    state_value_name: str = "FOC_MAX_VALUE"


#: FOC_CMD_INVOKE: arguments, state values and writes are plaintext.
PLAINTEXT = Limits("plaintext")
#: FOC_CMD_CONFIDENTIAL_INVOKE: a GetState answer carries a stored_value (ciphertext).
CONFIDENTIAL = Limits(
    "confidential",
    state_value=FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD,
    state_value_name="FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD",
)
