"""Confidential mode's protocol: what crosses the trust boundary, and the crypto suite.

Modules (contract: docs/confidential-protocol.md; guide: docs/confidential.md):
  suite        the crypto suite (ECDH P-256, HKDF-SHA256, AES-256-GCM, ECDSA P-256), chosen by key type
  formats      strict encoders/decoders of every confidential message
  measurement  the expected TA measurement, computed offline from a signed .ta

Who uses it: the client (`foc.client.confidential`), the peer-side chaincode
(`foc.wrapper.confidential`), the registry and validation (`foc.registry`).
"""
