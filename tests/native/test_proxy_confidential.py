"""Confidential mode through foc-proxy (native backend): the product path, end to end.

A `python -m foc.proxy --tee native` process (LocalProxy) with its own FOC_NATIVE_STORAGE; the
peer side is ConfidentialChaincode(ProxyEnclave(ProxyClient)) on the dev ledger with the `ercc`
registry; the client is foc.confidential's ConfidentialClient. Nothing is mocked between them.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import scenarios  # tests/scenarios.py, shared with tests/qemu
from cryptography.hazmat.primitives import serialization

from foc.admin.definitions import ChaincodeDefinition, DefinitionStore, define_chaincode
from foc.admin.devices import DeviceStore, enroll_device, load_public_key
from foc.client.confidential import ConfidentialClient, ConfidentialResult, PendingRequest
from foc.confidential.formats import Credentials, EnclaveConfig, StoredValue
from foc.deploy.native import LocalProxy
from foc.errors import ChaincodeError
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.protocol import invocation_pb2 as pb
from foc.protocol import invocation_pb2_grpc as pb_grpc
from foc.protocol import limits
from foc.proxy.client import ProxyClient
from foc.registry.ercc import EnclaveRegistry, RegistryQuery
from foc.wrapper.confidential import ConfidentialChaincode, ProxyEnclave

pytestmark = pytest.mark.native

REPO = Path(__file__).resolve().parents[2]
TEST_DEVICE_KEY = REPO / "ta" / "native" / "insecure_device_key.pub.pem"
NATIVE_MEASUREMENT = hashlib.sha256(b"FOC native-insecure-v1: not a TEE, nothing measured").hexdigest()
CHANNEL = "dev"
CHAINCODE = "coffee"
ENDPOINT = "native-proxy:7052"
SECRET_PERSON = "zq-conf-person-5521"
SECRET_COUNT = "734918"


def start_proxy(storage: Path) -> LocalProxy:
    """A native foc-proxy whose sealed objects live in `storage` (inherited environment)."""
    storage.mkdir(parents=True, exist_ok=True)
    old = os.environ.get("FOC_NATIVE_STORAGE")
    os.environ["FOC_NATIVE_STORAGE"] = str(storage)
    try:
        return LocalProxy("native", pool=2).start()
    finally:
        if old is None:
            del os.environ["FOC_NATIVE_STORAGE"]
        else:
            os.environ["FOC_NATIVE_STORAGE"] = old


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProxy]:
    local = start_proxy(tmp_path_factory.mktemp("sealed"))
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def client(proxy: LocalProxy) -> Iterator[ProxyClient]:
    with ProxyClient(proxy.address) as c:
        yield c


def config(*, force: bool = False) -> bytes:
    return EnclaveConfig(CHAINCODE, NATIVE_MEASUREMENT, CHANNEL, ENDPOINT, force=force).encode()


@dataclass
class Network:
    ledger: DevLedger
    peer: DevPeer
    definition: ChaincodeDefinition
    credentials: Credentials

    def client(self) -> ConfidentialClient:
        return ConfidentialClient(
            self.definition, RegistryQuery(lambda args: self.peer.query("ercc", args).response)
        )

    def execute(self, client: ConfidentialClient, *args: str) -> tuple[PendingRequest, bytes]:
        pending = client.encrypt_request(list(args))
        result = self.peer.query(CHAINCODE, ["__invoke", pending.request])
        assert result.response.endorsed, result.response.message
        return pending, result.response.payload

    def submit(self, client: ConfidentialClient, *args: str) -> ConfidentialResult:
        pending, response = self.execute(client, *args)
        result = client.open_response(pending, response)
        if result.ok:
            committed = self.peer.invoke(CHAINCODE, ["__endorse", pending.request, response])
            assert committed.committed, committed.response.message
        return result

    def state(self) -> dict[str, bytes]:
        return {k: v for (ns, k), (v, _) in self.ledger.state_dump().items() if ns == CHAINCODE}


@pytest.fixture
def network(tmp_path: Path, client: ProxyClient) -> Iterator[Network]:
    home = tmp_path / "foc-home"
    definition = define_chaincode(CHAINCODE, NATIVE_MEASUREMENT, CHANNEL, home=home)
    info = client.device_key_info()
    assert info.kind == "native-insecure"
    enroll_device("native-insecure", client.device_key(), home=home)
    ledger = DevLedger(tmp_path / "ledger.sqlite", channel=CHANNEL)
    definitions = DefinitionStore(home)
    peer = DevPeer(
        ledger,
        {
            "ercc": EnclaveRegistry(definitions, DeviceStore(home), allow_insecure_native=True),
            CHAINCODE: ConfidentialChaincode(CHAINCODE, ProxyEnclave(client), definitions),
        },
    )
    creds = Credentials.decode(client.create_enclave(config(force=True)))
    registered = peer.invoke("ercc", ["registerEnclave", base64.b64encode(creds.encode())])
    assert registered.committed, registered.response.message
    try:
        yield Network(ledger, peer, definition, creds)
    finally:
        ledger.close()


def test_device_key_is_the_published_native_insecure_key_labelled_as_such(client: ProxyClient) -> None:
    info = client.device_key_info()
    assert info.kind == "native-insecure" and info.tee_algorithm == 0
    published = load_public_key(TEST_DEVICE_KEY.read_bytes())
    assert load_public_key(client.device_key()).public_numbers() == published.public_numbers()
    der = published.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert info.public_key_der == der


def test_credentials_before_create_is_a_structured_not_found(tmp_path: Path) -> None:
    with start_proxy(tmp_path / "empty") as local, ProxyClient(local.address) as c:
        with pytest.raises(ChaincodeError) as err:
            c.credentials()
        assert err.value.code == "NOT_FOUND"
        assert c.health().serving


def test_create_register_invoke_validate_commit_query_through_the_proxy(
    network: Network, client: ProxyClient
) -> None:
    before = client.health()
    conf = network.client()
    assert network.submit(conf, "create", SECRET_PERSON, SECRET_COUNT).value() == b"OK"
    assert network.submit(conf, "add", SECRET_PERSON, "2").value() == b"OK"
    pending, response = network.execute(conf, "query", SECRET_PERSON)
    result = conf.open_response(pending, response)
    assert result.value() == f"person: {SECRET_PERSON}, number of consumed coffees: 734920".encode()
    assert [r.key for r in result.signed.reads] == [SECRET_PERSON]
    after = client.health()
    # pool semantics: no OpenSession for confidential transactions (four __invoke runs here)
    assert after.sessions_opened_total == before.sessions_opened_total
    assert after.transactions_total >= before.transactions_total + 3
    stored = network.state()
    StoredValue.decode(stored[SECRET_PERSON])
    assert SECRET_COUNT.encode() not in stored[SECRET_PERSON] and b"734920" not in stored[SECRET_PERSON]
    assert len([k for k in stored if k.startswith("~foc/request/")]) == 2
    assert network.ledger.verify().ok


def test_value_at_the_confidential_limit_is_written_and_read_back(network: Network) -> None:
    conf = network.client()
    scenarios.confidential_value_at_the_limit_is_written_and_read_back(
        network.peer, CHAINCODE, lambda args: network.submit(conf, *args).value()
    )


def test_stored_value_at_and_beyond_the_confidential_limit(network: Network) -> None:
    conf = network.client()
    scenarios.confidential_stored_value_at_and_beyond_the_limit(
        network.peer, CHAINCODE, lambda key: conf.encrypt_request(["query", key]).request
    )


def test_chaincode_error_comes_back_encrypted_and_signed(network: Network) -> None:
    conf = network.client()
    pending, response = network.execute(conf, "add", "nobody", "1")
    with pytest.raises(ChaincodeError) as err:
        conf.open_response(pending, response).value()
    assert err.value.code == "NOT_FOUND"


def test_recreate_is_refused_and_force_replaces_the_enclave_keeping_the_chaincode_key(
    network: Network, client: ProxyClient
) -> None:
    first = network.credentials
    with pytest.raises(ChaincodeError) as err:
        client.create_enclave(config())
    assert err.value.code == "EXISTS" and "force" in err.value.reason
    assert client.credentials() == first.encode()
    second = Credentials.decode(client.create_enclave(config(force=True)))
    assert second.attested_data.enclave_pub != first.attested_data.enclave_pub
    assert second.attested_data.chaincode_pub == first.attested_data.chaincode_pub
    assert client.credentials() == second.encode()


def test_malformed_enclave_config_is_a_structured_error(client: ProxyClient) -> None:
    for bad in (b"", b"FEC1", config()[:-1]):
        with pytest.raises(ChaincodeError) as err:
            client.create_enclave(bad)
        assert err.value.code in ("BAD_REQUEST", "LIMIT"), err.value


def test_bad_and_tampered_requests_get_structured_errors_and_the_proxy_keeps_serving(
    network: Network, client: ProxyClient
) -> None:
    conf = network.client()
    pending = conf.encrypt_request(["create", SECRET_PERSON, "1"])
    tampered = bytearray(pending.request)
    tampered[-3] ^= 1
    for bad in (bytes(tampered), b"garbage", pending.request[:-1], b"\x00" * 200):
        with pytest.raises(ChaincodeError) as err:
            client.invoke_confidential(bad, get_state=lambda key: None, transaction_id="tx-bad")
        assert err.value.code == "BAD_REQUEST", err.value
        assert SECRET_PERSON not in str(err.value)
    with pytest.raises(ChaincodeError) as err:
        client.invoke_confidential(
            b"x" * (limits.FOC_MAX_REQUEST + 1), get_state=lambda key: None, transaction_id="tx-big"
        )
    assert err.value.code == "LIMIT" and "limit 131072 (FOC_MAX_REQUEST)" in err.value.reason
    # clear-text function or arguments beside a confidential request: refused by the proxy
    stub = pb_grpc.InvocationStub(grpc.insecure_channel(client.address))
    for extra in ({"function_name": "create"}, {"arguments": ["a"]}, {"binary_arguments": [b"a"]}):
        req = pb.InvocationRequest(transaction_id="tx-mixed", confidential_request=pending.request, **extra)
        (answer,) = list(
            stub.TransactionInvocation(iter([pb.ChaincodeWrapperMessage(invocation_request=req)]))
        )
        error = answer.invocation_response.error
        assert error.code == pb.BAD_REQUEST and "encrypted" in error.message
    # the same request is still served afterwards
    response = client.invoke_confidential(pending.request, get_state=lambda key: None, transaction_id="tx-ok")
    assert conf.open_response(pending, response).value() == b"OK"
    assert client.health().serving


def test_a_confidential_request_needs_a_transaction_id(client: ProxyClient) -> None:
    with pytest.raises(ValueError, match="transaction_id"):
        client.invoke_confidential(b"FCR1", get_state=lambda key: None, transaction_id="")


def test_cli_enroll_define_create_register_list(
    proxy: LocalProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from foc.cli.main import main

    home = tmp_path / "home"
    monkeypatch.setenv("FOC_HOME", str(home))
    ledger = tmp_path / "cli-ledger.sqlite"

    def foc(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        rc = main(list(argv), out=out, err=err)
        return rc, out.getvalue(), err.getvalue()

    rc, out, err = foc("device", "enroll", "native-1", "--from-proxy", proxy.address)
    assert rc == 0, err
    fingerprint = DeviceStore(home).get("native-1").fingerprint
    assert fingerprint in out and "trust on first use" in out and "PUBLISHED" in err
    rc, out, err = foc(
        "chaincode", "define", "--id", CHAINCODE, "--version", NATIVE_MEASUREMENT, "--channel", CHANNEL
    )
    assert rc == 0 and NATIVE_MEASUREMENT in out, err
    create = ("enclave", "create", "--chaincode", CHAINCODE, "--channel", CHANNEL, "--endpoint", ENDPOINT)
    rc, out, err = foc(*create, "--force", "--proxy", proxy.address)
    assert rc == 0, err
    eid = out.split()[2]
    path = home / "chaincodes" / CHAINCODE / "enclaves" / f"{eid}.credentials"
    assert Credentials.decode(path.read_bytes()).encode() == path.read_bytes()
    rc, out, err = foc(*create, "--proxy", proxy.address)  # without --force: refused, the TA's reason
    assert rc == 9 and "EXISTS" in err and "force" in err
    register = ("enclave", "register", "--chaincode", CHAINCODE, "--enclave", eid, "--ledger", str(ledger))
    rc, out, err = foc(*register)
    assert rc == 11 and "refused" in err and "native" in err  # native evidence not allowed by default
    rc, out, err = foc(*register, "--allow-insecure-native")
    assert rc == 0 and eid in out, err
    rc, out, err = foc(*register, "--allow-insecure-native")
    assert rc == 11 and "already registered" in err
    rc, out, err = foc("enclave", "list", "--chaincode", CHAINCODE, "--ledger", str(ledger))
    assert rc == 0 and out.startswith(eid) and ENDPOINT in out and "native-insecure-v1" in out, err
    rc, out, err = foc("chaincode", "define", "--id", CHAINCODE, "--version", "xyz", "--channel", CHANNEL)
    assert rc == 2 and "measurement" in err
