"""Chaincode-as-client: the chaincode dials the peer (Fabric's peer-launched chaincode).

    connection = PeerConnection(chaincode, package_id, "peer0:7052", tls=ClientTls(root, cert, key))
    connection.run()          # REGISTER, REGISTERED/READY, transactions ... until the peer ends the stream

When a peer launches a chaincode itself (an external builder's `bin/run`, `foc.fabric.external`), the
chaincode is the gRPC *client*: it opens `/protos.ChaincodeSupport/Register` on the peer's chaincode
listener (`peer.chaincodeListenAddress`, the `peer_address` of the run metadata's chaincode.json) and
then speaks exactly the protocol of chaincode-as-a-service: it sends REGISTER with its package id, the
peer answers REGISTERED and READY, then TRANSACTION/INIT and the shim requests. The same
`ChaincodeStream` serves both directions; only who dials differs.

TLS: the peer's chaincode listener requires mutual TLS when its TLS is on; the run metadata carries the
peer's root certificate and a client certificate and key the peer issued for this chaincode (PEM). With
an empty client certificate the connection is plaintext (a peer without TLS).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc

from foc.chaincode.stub import Chaincode
from foc.errors import ConfigError, PeerStreamClosed
from foc.fabric.protos import ChaincodeMessage
from foc.fabric.server import (
    DEFAULT_MAX_TRANSACTIONS,
    DEFAULT_REGISTER_TIMEOUT_S,
    DEFAULT_REQUEST_TIMEOUT_S,
    MAX_MESSAGE_BYTES,
    ChaincodeStream,
)
from foc.protocol import transport

log = logging.getLogger(__name__)

#: How long the first connection to the peer may take before `run` gives up (the peer starts `run`
#: and waits `chaincode.startuptimeout` for REGISTER; a chaincode that cannot dial should say so).
DEFAULT_DIAL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ClientTls:
    """The peer's TLS root certificate and the client certificate/key it issued for this chaincode."""

    root_cert: bytes
    client_cert: bytes
    client_key: bytes

    def credentials(self) -> grpc.ChannelCredentials:
        """gRPC channel credentials: trust `root_cert`, present the client certificate."""
        for what, pem in (("root", self.root_cert), ("client", self.client_cert)):
            if b"-----BEGIN CERTIFICATE-----" not in pem:
                raise ConfigError(f"the peer's {what} certificate in the run metadata is not PEM")
        if b"PRIVATE KEY-----" not in self.client_key:
            raise ConfigError("the client key in the run metadata is not a PEM private key")
        return grpc.ssl_channel_credentials(
            root_certificates=self.root_cert, private_key=self.client_key, certificate_chain=self.client_cert
        )


class PeerConnection:
    """One chaincode, registered with one peer over a stream the chaincode opens.

    `run()` blocks until the peer ends the stream (or `stop()` is called) and returns; the peer
    then considers the chaincode terminated and launches it again at the next transaction.
    """

    def __init__(
        self,
        chaincode: Chaincode,
        package_id: str,
        peer_address: str,
        *,
        tls: ClientTls | None = None,
        max_transactions: int = DEFAULT_MAX_TRANSACTIONS,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
        register_timeout: float = DEFAULT_REGISTER_TIMEOUT_S,
    ) -> None:
        if not package_id:
            raise ConfigError(
                "a peer-launched chaincode needs its package id (chaincode_id of chaincode.json)"
            )
        host, sep, port = peer_address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ConfigError(f"the peer address {peer_address!r} is not host:port")
        self.package_id = package_id
        self.peer_address = peer_address
        self._chaincode = chaincode
        self._tls = tls
        self._max_transactions = max_transactions
        self._request_timeout = request_timeout
        self._register_timeout = register_timeout
        self._lock = threading.Lock()
        self._stream: ChaincodeStream | None = None
        self._call: grpc.Future | None = None
        self._stopped = False

    def run(self, dial_timeout: float = DEFAULT_DIAL_TIMEOUT_S) -> None:
        """Dial the peer, register and serve transactions until the stream ends.

        Raises PeerStreamClosed when the peer cannot be reached within `dial_timeout` seconds.
        """
        options = transport.channel_options(MAX_MESSAGE_BYTES, [("grpc.keepalive_time_ms", 60_000)])
        if self._tls is not None:
            channel = grpc.secure_channel(self.peer_address, self._tls.credentials(), options=options)
        else:
            channel = grpc.insecure_channel(self.peer_address, options=options)
        executor = ThreadPoolExecutor(self._max_transactions, thread_name_prefix="fabric-tx")
        try:
            try:
                grpc.channel_ready_future(channel).result(timeout=dial_timeout)
            except grpc.FutureTimeoutError:
                raise PeerStreamClosed(
                    f"cannot reach the peer's chaincode listener {self.peer_address} in {dial_timeout:g} s",
                    hint="check peer.chaincodeListenAddress and the TLS material of the run metadata",
                ) from None
            stream = ChaincodeStream(
                self._chaincode,
                self.package_id,
                executor,
                request_timeout=self._request_timeout,
                peer=self.peer_address,
                register_timeout=self._register_timeout,
            )
            register = channel.stream_stream(
                "/protos.ChaincodeSupport/Register",
                request_serializer=ChaincodeMessage.SerializeToString,
                response_deserializer=ChaincodeMessage.FromString,
            )
            with self._lock:
                if self._stopped:
                    return
                self._stream = stream
                self._call = register(stream.outgoing())
            log.info("registering with the peer at %s as %r", self.peer_address, self.package_id)
            stream.consume(self._call)  # until the peer ends the stream (or stop() cancels it)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            channel.close()

    def stop(self) -> None:
        """End the stream (e.g. on SIGTERM); `run` then returns."""
        with self._lock:
            self._stopped = True
            stream, call = self._stream, self._call
        if stream is not None:
            stream.close()
        if call is not None:
            call.cancel()
