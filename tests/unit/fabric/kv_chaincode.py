"""Test chaincode for the Fabric shim tests (a key-value chaincode exercising every stub call)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from foc.chaincode.stub import ChaincodeStub, Response

PACKAGE_ID = "foc_1.0:" + "ab" * 32


class KeyValueChaincode:
    """A small chaincode exercising every stub call; `rendezvous` needs `parties` txs in flight at once."""

    def __init__(self, parties: int = 20) -> None:
        self.barrier = threading.Barrier(parties, timeout=30)
        self.init_calls = 0
        self.release = threading.Event()  # `hold` transactions wait for this
        self.held = threading.Event()  # set when a `hold` transaction is waiting
        self.hold_errors: list[BaseException] = []

    def init(self, stub: ChaincodeStub) -> Response:
        self.init_calls += 1
        function, params = stub.get_function_and_parameters()
        if function == "fail":
            return Response.error("init refused")
        return Response.success(b"initialised")

    def invoke(self, stub: ChaincodeStub) -> Response:
        function, params = stub.get_function_and_parameters()
        if function == "put":
            stub.put_state(params[0], params[1].encode())
            return Response.success()
        if function == "get":
            value = stub.get_state(params[0])
            return Response.success(value) if value is not None else Response.error("not found", 404)
        if function == "del":
            stub.del_state(params[0])
            return Response.success()
        if function == "range":
            entries = stub.get_state_by_range(params[0], params[1])
            limit = int(params[2]) if len(params) > 2 else None
            keys = []
            for entry in entries:
                keys.append(f"{entry.key}={entry.value.decode()}")
                if limit is not None and len(keys) >= limit:
                    break  # left open on purpose: the shim must close it
            return Response.success("\n".join(keys).encode())
        if function == "creator":
            return Response.success(stub.get_creator())
        if function == "transient":
            return Response.success(stub.get_transient()[params[0]])
        if function == "facts":
            fs = stub  # FabricStub extras
            text = f"{fs.tx_id}|{fs.channel_id}|{fs.creator_msp_id}|{fs.tx_timestamp.isoformat()}"  # type: ignore[attr-defined]
            return Response.success(text.encode())
        if function == "call":
            result = stub.invoke_chaincode(params[0], [p.encode() for p in params[1:]])
            return Response(result.status, result.message, result.payload)
        if function == "boom":
            raise RuntimeError(f"chaincode bug with {params}")
        if function == "rendezvous":
            before = stub.get_state(params[0])
            self.barrier.wait()  # every party is now in flight on the same stream
            stub.put_state(params[0], (before or b"") + b"+")
            return Response.success(stub.tx_id.encode())
        if function == "hold":
            self.held.set()
            self.release.wait(30)
            try:
                stub.put_state("held", b"1")
            except Exception as exc:
                self.hold_errors.append(exc)
                raise
            return Response.success()
        if function == "parallel":
            with ThreadPoolExecutor(len(params)) as pool:
                values = list(pool.map(stub.get_state, params))
            return Response.success(b",".join(v or b"-" for v in values))
        return Response.error(f"unknown function {function}", 400)
