"""Administrator-pinned configuration on disk, under $FOC_HOME (`home`).

devices      enrolled device attestation keys
definitions  chaincode definitions (id, version = expected TA measurement, channel)
credentials  enclave credentials written by `foc enclave create`
"""
