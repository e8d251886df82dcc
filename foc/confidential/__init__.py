"""Confidential mode: the normal-world side of FPC Lite ideas on OP-TEE.

Modules, one concept each (contract: docs/confidential-protocol.md; guide: docs/confidential.md):
  suite        the crypto suite (ECDH P-256, HKDF-SHA256, AES-256-GCM, ECDSA P-256), chosen by key type
  formats      strict encoders/decoders of every confidential message
  client       ConfidentialClient: encrypt requests, verify then decrypt responses
  validation   verify_response / validate_and_apply: checks before commit (FPC's __endorse)
  chaincode    ConfidentialChaincode: the peer-side __invoke / __endorse chaincode
  registry     EnclaveRegistry chaincode (ercc) and RegistryQuery
  attestation  verification of OP-TEE attestation evidence in enclave credentials
  measurement  the expected TA measurement, computed offline from a signed .ta
  devices      enrolled device attestation keys on disk
  definitions  chaincode definitions (id, version = measurement, channel) on disk
  home         the on-disk layout ($FOC_HOME)
"""
