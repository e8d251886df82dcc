"""Fabric back end: a chaincode-as-a-service shim speaking `protos.Chaincode/Connect` to a peer.

* `server.ChaincodeServer` - the gRPC server the peer dials (one `ChaincodeStream` per Connect).
* `stub.FabricStub` - `foc.chaincode.stub.ChaincodeStub` over the peer's stream.
* `proposal.TransactionContext` - creator, transient map and timestamp from the SignedProposal.
* `package` - build the `ccaas` chaincode package and compute its package id.
* `tls.ServerTls` - optional TLS / mutual TLS for the server.
"""
