"""The chaincode contract: what a chaincode may ask of the ledger (`stub.ChaincodeStub`) and how it
answers (`stub.Response`); `memory.MemoryStub` is the in-memory ledger for unit tests.

The ground floor of FOC's Python side: every peer-side chaincode (`foc.wrapper`, `foc.registry`)
and every ledger back end (`foc.ledger`, `foc.fabric`) is written against it.
"""
