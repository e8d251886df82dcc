"""The enclave registry and the checks that trust an enclave (FPC's ERCC and validation).

ercc         EnclaveRegistry chaincode (`ercc`) and RegistryQuery (read it from a client or a stub)
attestation  verification of OP-TEE attestation evidence in enclave credentials
validation   verify_response / validate_and_apply: the checks before commit (FPC's `__endorse`)
"""
