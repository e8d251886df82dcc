"""Several devices endorse one confidential chaincode (issue 13), on the host-native build (NOT a
TEE): three foc-proxy processes, each a simulated device with its own sealed storage and its own
"device key" (a plain RSA key file, $FOC_NATIVE_DEVICE_KEY), one organisation each, over one dev
ledger with one peer per organisation.

Org1's enclave creates the chaincode keys; Org2's and Org3's enclaves join by attested key
transfer (ENCLAVE_JOIN / KEY_EXPORT / KEY_IMPORT between the TAs); every enclave is registered.
Then: transactions commit under "2 of 3" and "all of 2"; enclaves whose results differ make the
transaction invalid (at the client and at the validator); a revoked enclave's signatures are
refused; a join is refused when the joining device is not in the chaincode's key policy or when
the normal world swaps the attested transfer key; and no key byte appears anywhere outside the
sealed objects (logs, ledger, FOC home, every message of the transfer).

The TA's own checks, one by one, are in ta/native/tests/test_confidential.c
(test_key_distribution); the same scenario on real OP-TEE is tests/qemu/test_keydist_optee.py.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import leakscan  # tests/leakscan.py
import multidevice  # tests/multidevice.py
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from foc import connect
from foc.client.network import Network, Organisation
from foc.confidential.formats import (
    ConfidentialResponse,
    Credentials,
    JoinData,
    KeyExport,
    KeyImport,
    KeyRequest,
    StoredValue,
)
from foc.deploy.native import LocalProxy, simulated_device
from foc.errors import (
    ChaincodeError,
    EndorsementFailure,
    EndorsementPolicyFailure,
    VerificationError,
)
from foc.tee.device_key import NATIVE_DEVICE_KEY_ENV
from foc.wrapper.confidential import ENDORSE, INVOKE, ProxyEnclave

pytestmark = pytest.mark.native

CHAINCODE = "coffee"
ORGS = ("Org1", "Org2", "Org3")
TWO_OF_THREE = "OutOf(2, 'Org1', 'Org2', 'Org3')"
SECRET_COUNT = "730519"


@dataclass
class Device:
    """One simulated native device: its proxy, sealed-object directory and key file."""

    proxy: LocalProxy
    storage: Path
    key_file: Path


def _start_device(root: Path, storage: Path | None = None, key_file: Path | None = None) -> Device:
    """Start a simulated device's proxy (a new one under `root`, or the given storage and key)."""
    proxy = simulated_device(root, storage=storage, key_file=key_file)
    env = proxy.env
    return Device(proxy.start(), Path(env["FOC_NATIVE_STORAGE"]), Path(env[NATIVE_DEVICE_KEY_ENV]))


def _sealed_files(device: Device) -> list[str]:
    """The device's "sealed" files (every TA's, each under its uuid), relative to its storage."""
    return sorted(str(p.relative_to(device.storage)) for p in device.storage.rglob("*"))


@pytest.fixture(scope="module")
def devices(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Device]]:
    started: dict[str, Device] = {}
    try:
        for org in ORGS:
            started[org] = _start_device(tmp_path_factory.mktemp(org.lower()))
        yield started
    finally:
        for device in started.values():
            device.proxy.stop()


def _connect(tmp_path: Path, devices: dict[str, Device], orgs: tuple[str, ...] = ORGS) -> Network:
    return connect(
        ledger=tmp_path / "dev.sqlite",
        home=tmp_path / "home",
        organisations=[Organisation(org, proxy=devices[org].proxy.address) for org in orgs],
        allow_insecure_native=True,
    )


def test_two_of_three_organisations_share_the_keys_by_attested_transfer(
    tmp_path: Path, devices: dict[str, Device], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with _connect(tmp_path, devices) as net:
        setups = net.set_up_enclaves(CHAINCODE, endorsement_policy=TWO_OF_THREE, rekey=True)

        # three enclaves on three devices of three organisations, each with its own signing key,
        # all holding one chaincode key (and, in the sealed objects, one state key)
        records = net.enclaves(CHAINCODE)
        assert sorted(r.organisation for r in records) == list(ORGS)
        assert len({r.device for r in records}) == 3 and not any(r.revoked for r in records)
        creds = [Credentials.decode(s.enclave.credentials) for s in setups]
        assert len({c.attested_data.enclave_pub for c in creds}) == 3
        assert len({c.attested_data.chaincode_pub for c in creds}) == 1
        keys = [leakscan.KeyMaterial.from_directory(devices[org].storage) for org in ORGS]
        assert len({k.chaincode_priv for k in keys}) == 1 and len({k.state_key for k in keys}) == 1
        assert len({k.sign_priv for k in keys}) == 3

        contract = net.contract(CHAINCODE)
        assert contract.invoke("create", ["alice", SECRET_COUNT]) == b"OK"
        assert "validated 2 endorsement(s)" in caplog.text
        assert contract.invoke("add", ["alice", "1"]) == b"OK"
        expected = f"person: alice, number of consumed coffees: {int(SECRET_COUNT) + 1}".encode()
        for _ in ORGS:  # each query goes to the next organisation's enclave
            assert contract.query("query", ["alice"]) == expected
        # any one enclave's write decrypts with the shared state key
        stored = net.ledger.read(CHAINCODE, "alice")
        assert stored is not None
        keys[0].check_against(creds[0], {"alice": stored[0]})

        # one enclave down: two of three still endorse
        devices["Org3"].proxy.stop()
        try:
            assert contract.invoke("add", ["alice", "1"]) == b"OK"
        finally:
            old = devices["Org3"]
            devices["Org3"] = _start_device(old.storage.parent / "restarted", old.storage, old.key_file)


def test_all_of_two_disagreeing_results_and_revocation_are_refused(
    tmp_path: Path, devices: dict[str, Device]
) -> None:
    with _connect(tmp_path, devices, ("Org1", "Org2")) as net:
        net.set_up_enclaves(CHAINCODE, endorsement_policy="AND('Org1', 'Org2')", rekey=True)
        contract = net.contract(CHAINCODE)
        assert contract.invoke("create", ["bob", "10"]) == b"OK"
        peers = {org: net.contract(CHAINCODE, plaintext=True, organisation=org) for org in ("Org1", "Org2")}
        submit = net.contract(CHAINCODE, plaintext=True)

        # Both enclaves endorse one request by hand: the validator commits it.
        request = multidevice.confidential_request(net, CHAINCODE, ["add", "bob", "1"])
        r1, r2 = (peers[org].query(INVOKE, [request]) for org in ("Org1", "Org2"))
        w1, w2 = (ConfidentialResponse.decode(r).message().writes for r in (r1, r2))
        assert w1 == w2 and len(w1) == 1  # two enclaves, byte-identical encrypted writes
        assert submit.invoke(ENDORSE, [request, r1, r2]) == b"OK"
        # ... because the TA derives a written value's nonce (docs/confidential-protocol.md):
        state_key = leakscan.KeyMaterial.from_directory(devices["Org1"].storage).state_key
        sealed = StoredValue.decode(w1[0].stored_value)
        value = AESGCM(state_key).decrypt(sealed.nonce, sealed.ciphertext, b"FOC/v1/state" + b"bob")
        info = b"FOC/v1/state-nonce" + hashlib.sha256(request).digest()
        info += hashlib.sha256(b"bob").digest() + hashlib.sha256(value).digest()
        assert sealed.nonce == HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(state_key)[:12]
        # One endorsement is not enough under AND('Org1', 'Org2').
        lonely = multidevice.confidential_request(net, CHAINCODE, ["add", "bob", "1"])
        with pytest.raises(EndorsementFailure, match="endorsement policy .* is not satisfied"):
            submit.invoke(ENDORSE, [lonely, peers["Org1"].query(INVOKE, [lonely])])
        # The same enclave twice is not two organisations.
        with pytest.raises(EndorsementFailure, match="same enclave endorsed the transaction twice"):
            r = peers["Org1"].query(INVOKE, [lonely])
            submit.invoke(ENDORSE, [lonely, r, r])

        # Org2's enclave executes against older state than Org1's: their results differ.
        with multidevice.stale_peer(net, tmp_path / "dev.sqlite", devices["Org2"].proxy.address, CHAINCODE,
                                    allow_insecure_native=True) as stale:  # fmt: skip
            assert contract.invoke("add", ["bob", "5"]) == b"OK"  # Org2's copy does not have it
            multidevice.assert_disagreeing_enclaves_refused(
                net, CHAINCODE, ("Org1", peers["Org1"]), ("Org2", stale), ["add", "bob", "1"], "bob"
            )
        before = net.ledger.read(CHAINCODE, "bob")
        expected = b"person: bob, number of consumed coffees: 16"
        assert contract.query("query", ["bob"]) == expected

        # Revoke Org2's enclave: its signatures are refused from then on, even alongside Org1's.
        org2 = next(r for r in net.enclaves(CHAINCODE) if r.organisation == "Org2")
        request = multidevice.confidential_request(net, CHAINCODE, ["add", "bob", "1"])
        r1, r2 = (peers[org].query(INVOKE, [request]) for org in ("Org1", "Org2"))
        net.revoke_enclave(CHAINCODE, org2.enclave_id)
        with pytest.raises(EndorsementFailure, match="was revoked"):
            submit.invoke(ENDORSE, [request, r1, r2])
        with pytest.raises(EndorsementPolicyFailure, match="not satisfied"):
            contract.invoke("add", ["bob", "1"])
        assert [r.revoked for r in net.enclaves(CHAINCODE) if r.organisation == "Org2"] == [True]
        assert contract.query("query", ["bob"]) == expected  # Org1's enclave still answers queries
        assert net.ledger.read(CHAINCODE, "bob") == before


def test_a_join_is_refused_outside_the_key_policy_or_with_a_swapped_transfer_key(
    tmp_path: Path, devices: dict[str, Device]
) -> None:
    with _connect(tmp_path, devices) as net:
        # Only Org1's and Org2's devices are the chaincode's devices (its key policy).
        for org in ("Org1", "Org2", "Org3"):
            net.enroll_device(org.lower(), replace=True, organisation=org)
        net.define_chaincode(CHAINCODE, devices={"org1": "Org1", "org2": "Org2"})
        created = net.create_enclave(CHAINCODE, force=True, rekey=True, organisation="Org1")
        net.register_enclave(CHAINCODE, credentials=created.credentials)
        before = {org: _sealed_files(devices[org]) for org in ORGS}

        # An enrolled device that is not one of the chaincode's devices never receives the keys.
        with pytest.raises(ChaincodeError) as caught:
            net.join_enclave(CHAINCODE, organisation="Org3", source="Org1", rekey=True)
        assert caught.value.code == "UNTRUSTED"
        assert "not in this chaincode's key policy" in caught.value.reason

        # The normal world relays a key request with a transfer key of its own choosing: the
        # evidence was over the TA's transfer key, so the holder refuses.
        joining, holder = ProxyEnclave(net._device("Org2")), ProxyEnclave(net._device("Org1"))
        config = net._enclave_config(CHAINCODE, None, "Org2", force=False, rekey=True)
        genuine = KeyRequest.decode(joining.join(config))
        data = genuine.join_data
        chosen = JoinData(
            data.chaincode_id, data.chaincode_version, data.channel_id, data.host_endpoint,
            data.enclave_pub, ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
                Encoding.X962, PublicFormat.UncompressedPoint
            ),
            data.key_policy_digest,
        )  # fmt: skip
        forged = KeyRequest(chosen.encode(), genuine.evidence_bytes).encode()
        with pytest.raises(ChaincodeError) as caught:
            holder.export_keys(KeyExport(forged, net.device_key_der("Org2")).encode())
        assert caught.value.code == "UNTRUSTED" and "does not verify" in caught.value.reason
        # ... and with another (enrolled, in-policy) device's key named as the requester's
        with pytest.raises(ChaincodeError) as caught:
            holder.export_keys(KeyExport(genuine.encode(), net.device_key_der("Org1")).encode())
        assert caught.value.code == "UNTRUSTED"
        assert {org: _sealed_files(devices[org]) for org in ORGS} == before

        # The honest join of an in-policy device works, and registers.
        info = net.join_enclave(CHAINCODE, organisation="Org2", source="Org1", rekey=True)
        net.register_enclave(CHAINCODE, credentials=info.credentials)
        assert sorted(r.organisation for r in net.enclaves(CHAINCODE)) == ["Org1", "Org2"]
        # Org3's own enclave with its own keys is refused by the registry (other device, other key).
        own = net.create_enclave(CHAINCODE, force=True, rekey=True, organisation="Org3")
        with pytest.raises(VerificationError, match="not one of the devices of chaincode"):
            net.register_enclave(CHAINCODE, credentials=own.credentials)


def test_no_key_material_leaves_the_tas_during_the_transfer(
    tmp_path: Path, devices: dict[str, Device], caplog: pytest.LogCaptureFixture
) -> None:
    """The leak scan of tests/native/test_key_leak_scan.py, over a key transfer: every message
    relayed between the TAs, both proxies' logs, the log records, the ledger and FOC home."""
    caplog.set_level(logging.DEBUG)
    messages: dict[str, bytes] = {}
    with _connect(tmp_path, devices, ("Org1", "Org2")) as net:
        for org in ("Org1", "Org2"):
            net.enroll_device(org.lower(), replace=True, organisation=org)
        net.define_chaincode(CHAINCODE, devices={"org1": "Org1", "org2": "Org2"})
        created = net.create_enclave(CHAINCODE, force=True, rekey=True, organisation="Org1")
        net.register_enclave(CHAINCODE, credentials=created.credentials)
        joining, holder = ProxyEnclave(net._device("Org2")), ProxyEnclave(net._device("Org1"))
        config = net._enclave_config(CHAINCODE, None, "Org2", force=False, rekey=True)
        messages["key_request"] = joining.join(config)
        export = KeyExport(messages["key_request"], net.device_key_der("Org2")).encode()
        messages["key_package"] = holder.export_keys(export)
        imported = KeyImport(messages["key_package"], net.device_key_der("Org1")).encode()
        messages["credentials of the joined enclave"] = joining.import_keys(imported)
        net.register_enclave(CHAINCODE, credentials=messages["credentials of the joined enclave"])
        assert net.contract(CHAINCODE).invoke("create", ["carol", SECRET_COUNT]) == b"OK"
        stored = net.ledger.read(CHAINCODE, "carol")
        assert stored is not None
        StoredValue.decode(stored[0])

    # A dump of this process (the peers, wrappers, registry and client of both organisations),
    # taken before the test reads any key. The proxies are not dumped here: the native build runs
    # the "TA" inside the proxy process (the qemu tier dumps the guests' proxies).
    memory = leakscan.process_memory()
    assert messages["key_package"] in memory  # control: what passed through is in the dump
    secrets: dict[str, bytes] = {}
    for org in ("Org1", "Org2"):
        keys = leakscan.KeyMaterial.from_directory(devices[org].storage)
        keys.check_against(Credentials.decode(keys.credentials), {"carol": stored[0]})
        secrets.update({f"{org} {name}": value for name, value in keys.secrets().items()})
    leakscan.assert_scanner_finds_plants(secrets)
    # positive control: the sealed objects do hold them
    assert leakscan.scan(leakscan.files_under([devices["Org2"].storage]), secrets)

    blobs = dict(messages)
    blobs["memory of this process (peers, wrappers, client)"] = memory
    blobs["log records of this process"] = caplog.text.encode()
    logs = [devices[org].proxy.log_path for org in ("Org1", "Org2")]
    blobs.update(leakscan.files_under([*logs, tmp_path / "home", *tmp_path.glob("dev.sqlite*")]))
    assert all(str(log) in blobs for log in logs)
    hits = leakscan.scan(blobs, secrets)
    assert hits == [], "key material left the TAs:\n" + "\n".join(hits)


def test_the_admin_cli_joins_lists_and_revokes(
    tmp_path: Path, devices: dict[str, Device], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`foc device enroll`, `foc chaincode define --device --policy`, `foc enclave create --rekey`,
    `foc enclave join --from-proxy`, `foc enclave register`, `list`, `revoke`: the same flow by hand."""
    from foc.cli.main import main as foc_main

    monkeypatch.setenv("FOC_HOME", str(tmp_path / "home"))

    def foc(*argv: str, expect: int = 0) -> str:
        out, err = io.StringIO(), io.StringIO()
        rc = foc_main(list(argv), out=out, err=err)
        assert rc == expect, f"foc {' '.join(argv)} -> {rc}: {err.getvalue()}"
        return out.getvalue() + err.getvalue()

    a, b = devices["Org1"].proxy.address, devices["Org2"].proxy.address
    foc("device", "enroll", "dev-a", "--from-proxy", a, "--replace")
    foc("device", "enroll", "dev-b", "--from-proxy", b, "--replace")
    foc(
        "chaincode", "define", "--id", CHAINCODE, "--native-insecure", "--channel", "dev",
        "--device", "dev-a:Org1", "--device", "dev-b:Org2", "--policy", "AND('Org1', 'Org2')",
    )  # fmt: skip
    channel = ("--channel", "dev")
    target = ("--chaincode", CHAINCODE, *channel)
    created = foc("enclave", "create", "--rekey", *target, "--endpoint", "a:7052", "--proxy", a)
    join = ("enclave", "join", "--rekey", *target, "--endpoint", "b:7052", "--proxy", b, "--from-proxy", a)
    joined = foc(*join)
    assert "attested transfer" in joined
    ids = [created.split()[2], joined.split()[2]]
    ledger, insecure = ("--ledger", str(tmp_path / "dev.sqlite")), "--allow-insecure-native"
    for eid in ids:
        foc("enclave", "register", "--chaincode", CHAINCODE, "--enclave", eid, *ledger, insecure)
    listed = foc("enclave", "list", "--chaincode", CHAINCODE, *ledger)
    assert all(eid[:16] in listed for eid in ids) and "Org1" in listed and "Org2" in listed
    foc("enclave", "revoke", "--chaincode", CHAINCODE, "--enclave", ids[1], *ledger)
    assert "revoked" in foc("enclave", "list", "--chaincode", CHAINCODE, *ledger)
    # a device outside the definition's devices: the holder's TA refuses, exit code of ChaincodeError
    foc("chaincode", "define", "--id", CHAINCODE, "--native-insecure", *channel, "--device", "dev-a:Org1")
    foc("enclave", "create", "--rekey", *target, "--endpoint", "a:7052", "--proxy", a)
    refused = foc(*join, expect=9)
    assert "UNTRUSTED" in refused and "key policy" in refused
