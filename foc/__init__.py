"""FOC: confidential Hyperledger Fabric chaincode in OP-TEE (ARM TrustZone)."""

__version__ = "0.1.0"
