"""Two devices endorse one confidential chaincode on real OP-TEE (issue 13): two QEMU instances,
each its own secure storage and attestation PTA key (two devices), one organisation each.

Device A is the tier's session guest; device B is a second instance booted by this module
(instance ``pytest-keydist-b-<pid>``, always stopped). Through the product path (host -> hostfwd ->
each guest's foc-proxy -> TA), enclave A creates the chaincode keys and enclave B joins by
attested key transfer (ENCLAVE_JOIN on B, KEY_EXPORT on A, KEY_IMPORT on B: each TA checks the
other's PTA evidence); both are registered; a transaction endorsed by both under AND('Org1',
'Org2') commits; a transaction whose two results differ is refused; a revoked enclave's
signatures are refused; and B never receives the keys when its device is not in the chaincode's
key policy, when the normal world swaps the attested transfer key, or when B runs another TA
(a TEST build of our TA under the same UUID: another measurement); no key byte appears in any
relayed message, log, ledger file or FOC home (the leak scan, with B's imported keys).
Latencies go to the "qemu tier timings" summary, never asserted. The same scenario runs on three
simulated devices in tests/native/test_keydist.py.
"""

from __future__ import annotations

import inspect
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import leakscan  # tests/leakscan.py
import multidevice  # tests/multidevice.py
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from foc import connect
from foc.client.network import Network, Organisation
from foc.confidential.formats import Credentials, JoinData, KeyExport, KeyImport, KeyRequest
from foc.deploy import api
from foc.errors import (
    ChaincodeError,
    EndorsementFailure,
    EndorsementPolicyFailure,
)
from foc.proxy.client import ProxyClient
from foc.tee import abi
from foc.wrapper.confidential import ENDORSE, INVOKE, ProxyEnclave

if TYPE_CHECKING:
    from conftest import Guest  # tests/qemu/conftest.py

pytestmark = pytest.mark.qemu

CHAINCODE = "coffee"
BOTH = "AND('Org1', 'Org2')"
TA_PATH = f"/lib/optee_armtz/{abi.FOC_TA_UUID_STR}.ta"


def report(config: pytest.Config, text: str) -> None:
    line = f"key distribution on two OP-TEE devices: {text}"
    print(line)
    getattr(config, "foc_qemu_report", []).append(line)


@pytest.fixture(scope="module")
def device_b(
    guest: Guest, guest_booter: Callable[[str], AbstractContextManager[Guest]], request: pytest.FixtureRequest
) -> Iterator[Guest]:
    """A second QEMU instance (its own secure storage, so its own PTA key): device B."""
    instance = f"pytest-keydist-b-{os.getpid()}"  # swept with the tier's stale run dirs
    t0 = time.monotonic()
    with guest_booter(instance) as booted:
        report(request.config, f"device B ({instance}) up in {time.monotonic() - t0:.1f} s")
        yield booted


@pytest.fixture(scope="module")
def measurement(guest: Guest, device_b: Guest) -> bytes:
    a = api.expected_ta_measurement("qemu", instance=guest.instance)
    assert api.expected_ta_measurement("qemu", instance=device_b.instance) == a  # one image, one TA
    return a


@pytest.fixture
def net(guest: Guest, device_b: Guest, measurement: bytes, tmp_path: Path) -> Iterator[Network]:
    _settle(guest.proxy_address)
    with connect(
        ledger=tmp_path / "dev.sqlite",
        home=tmp_path / "home",
        organisations=[
            Organisation("Org1", proxy=guest.proxy_address),
            Organisation("Org2", proxy=device_b.proxy_address),
        ],
    ) as network:
        try:
            yield network
        finally:
            # Leave device A as the rest of the tier expects it: chaincode keys bound to no device
            # list (a single-device definition), so later `set_up_enclave`s can replace its enclave.
            network.define_chaincode(CHAINCODE, version=measurement.hex())
            network.create_enclave(CHAINCODE, force=True, rekey=True, organisation="Org1")


def _settle(address: str) -> None:
    """Absorb the TA_CRASHED answers a TA panic (an earlier test's, or a swap here) leaves in the
    proxy's pooled sessions: ask GetCredentials until the sessions answer normally."""
    with ProxyClient(address) as client:
        for _ in range(10):
            try:
                client.credentials()
            except ChaincodeError as exc:
                if exc.code != "NOT_FOUND" and exc.code != "TA_CRASHED":
                    raise


def test_two_devices_share_the_keys_and_both_must_agree(
    net: Network, measurement: bytes, device_b: Guest, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    t0 = time.monotonic()
    setups = net.set_up_enclaves(CHAINCODE, endorsement_policy=BOTH, measurement=measurement, rekey=True)
    report(
        request.config,
        f"enroll both, define, create on A, join B, register both: {time.monotonic() - t0:.1f} s",
    )
    records = net.enclaves(CHAINCODE)
    assert (
        sorted(r.organisation for r in records) == ["Org1", "Org2"] and len({r.device for r in records}) == 2
    )
    creds = [Credentials.decode(s.enclave.credentials) for s in setups]
    assert creds[0].attested_data.chaincode_pub == creds[1].attested_data.chaincode_pub
    assert creds[0].attested_data.enclave_pub != creds[1].attested_data.enclave_pub
    assert {c.evidence.kind for c in creds} == {"optee-ta-memory-v1"}
    assert {c.evidence.measurement for c in creds} == {measurement}

    contract = net.contract(CHAINCODE)
    t0 = time.monotonic()
    assert contract.invoke("create", ["dora", "20"]) == b"OK"
    report(request.config, f"one transaction endorsed by both enclaves: {time.monotonic() - t0:.1f} s")
    assert contract.invoke("add", ["dora", "1"]) == b"OK"
    assert contract.query("query", ["dora"]) == b"person: dora, number of consumed coffees: 21"
    assert contract.query("query", ["dora"]) == b"person: dora, number of consumed coffees: 21"  # the other

    peers = {org: net.contract(CHAINCODE, plaintext=True, organisation=org) for org in ("Org1", "Org2")}
    submit = net.contract(CHAINCODE, plaintext=True)
    # B's enclave executes against a copy of the ledger taken before the next commit.
    with multidevice.stale_peer(net, tmp_path / "dev.sqlite", device_b.proxy_address, CHAINCODE) as stale:
        assert contract.invoke("add", ["dora", "4"]) == b"OK"
        multidevice.assert_disagreeing_enclaves_refused(
            net, CHAINCODE, ("Org1", peers["Org1"]), ("Org2", stale), ["add", "dora", "1"], "dora"
        )
    before = net.ledger.read(CHAINCODE, "dora")

    # Revoked: B's signature is refused, alone or beside A's; the policy cannot be met.
    req = multidevice.confidential_request(net, CHAINCODE, ["add", "dora", "1"])
    r1, r2 = (peers[org].query(INVOKE, [req]) for org in ("Org1", "Org2"))
    org2 = next(r for r in records if r.organisation == "Org2")
    net.revoke_enclave(CHAINCODE, org2.enclave_id)
    with pytest.raises(EndorsementFailure, match="was revoked"):
        submit.invoke(ENDORSE, [req, r1, r2])
    with pytest.raises(EndorsementPolicyFailure, match="not satisfied"):
        contract.invoke("add", ["dora", "1"])
    assert net.ledger.read(CHAINCODE, "dora") == before


def test_a_device_outside_the_key_policy_or_a_swapped_transfer_key_gets_no_keys(
    net: Network, measurement: bytes
) -> None:
    for org in ("Org1", "Org2"):
        net.enroll_device(org.lower(), replace=True, organisation=org)
    net.define_chaincode(
        CHAINCODE, version=measurement.hex(), devices={"org1": "Org1"}
    )  # B enrolled, not listed
    net.create_enclave(CHAINCODE, force=True, rekey=True, organisation="Org1")
    with pytest.raises(ChaincodeError) as caught:
        net.join_enclave(CHAINCODE, organisation="Org2", source="Org1", rekey=True)
    assert caught.value.code == "UNTRUSTED" and "not in this chaincode's key policy" in caught.value.reason

    net.define_chaincode(CHAINCODE, version=measurement.hex(), devices={"org1": "Org1", "org2": "Org2"})
    net.create_enclave(CHAINCODE, force=True, rekey=True, organisation="Org1")
    joining, holder = ProxyEnclave(net._device("Org2")), ProxyEnclave(net._device("Org1"))
    config = net._enclave_config(CHAINCODE, None, "Org2", force=False, rekey=True)
    genuine = KeyRequest.decode(joining.join(config))
    d = genuine.join_data
    chosen = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )
    forged = JoinData(
        d.chaincode_id, d.chaincode_version, d.channel_id, d.host_endpoint, d.enclave_pub, chosen,
        d.key_policy_digest,
    )  # fmt: skip
    with pytest.raises(ChaincodeError) as caught:
        holder.export_keys(KeyExport(KeyRequest(forged.encode(), genuine.evidence_bytes).encode(),
                                     net.device_key_der("Org2")).encode())  # fmt: skip
    assert caught.value.code == "UNTRUSTED" and "does not verify" in caught.value.reason
    # control: the same TAs, relayed honestly, do transfer the keys
    info = net.join_enclave(CHAINCODE, organisation="Org2", source="Org1", rekey=True)
    assert Credentials.decode(info.credentials).evidence.measurement == measurement


SWAP_SCRIPT = """
import shutil
from foc.errors import TaCrashed
from foc.tee import abi
from foc.tee import libteec as L
TA, NEW = {ta!r}, {new!r}
shutil.copy2(NEW, TA)
backend = L.LibteecBackend()
s = backend.open_session()
try:
    s.invoke(abi.FOC_CMD_PANIC)  # single-instance, keep-alive TA: the next session loads the file
except TaCrashed:
    pass
s.close()
backend.close()
print("SWAPPED")
"""


def test_an_enclave_running_another_ta_gets_no_keys(
    guest: Guest, device_b: Guest, net: Network, measurement: bytes, tmp_path: Path
) -> None:
    """Device B runs a TEST build of our TA under the same UUID (OP-TEE loads it: the dev signing
    key is public): its evidence carries another measurement, and A's TA refuses to export."""
    from test_confidential_proxy import build_test_ta  # the TEST build against the image's dev kit

    for org in ("Org1", "Org2"):
        net.enroll_device(org.lower(), replace=True, organisation=org)
    net.define_chaincode(CHAINCODE, version=measurement.hex(), devices={"org1": "Org1", "org2": "Org2"})
    net.create_enclave(CHAINCODE, force=True, rekey=True, organisation="Org1")

    exchange = device_b.running.run_dir / "secure-storage" / "foc-test"  # /mnt/state in the guest
    exchange.mkdir(exist_ok=True)
    saved = "/mnt/state/foc-test/production.ta"
    try:
        test_ta = build_test_ta(guest, tmp_path / "test-ta")
        shutil.copy2(test_ta, exchange / test_ta.name)
        rc, text = device_b.console.run(f"cp {TA_PATH} {saved}", timeout=60)
        assert rc == 0, text
        rc, text = device_b.python(SWAP_SCRIPT.format(ta=TA_PATH, new=f"/mnt/state/foc-test/{test_ta.name}"))
        assert rc == 0 and "SWAPPED" in text, text[-2000:]
        _settle(device_b.proxy_address)
        with pytest.raises(ChaincodeError) as caught:
            net.join_enclave(CHAINCODE, organisation="Org2", source="Org1", rekey=True)
        assert caught.value.code == "UNTRUSTED" and "runs another TA" in caught.value.reason
    finally:
        rc, text = device_b.python(SWAP_SCRIPT.format(ta=TA_PATH, new=saved))
        shutil.rmtree(exchange, ignore_errors=True)
        assert rc == 0 and "SWAPPED" in text, text[-2000:]
        _settle(device_b.proxy_address)
    # control: the production TA back on B joins
    info = net.join_enclave(CHAINCODE, organisation="Org2", source="Org1", rekey=True)
    assert Credentials.decode(info.credentials).evidence.measurement == measurement


DUMP_SCRIPT = """
import glob, os
{function}
for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
    try:
        argv = open(cmdline, "rb").read().split(b"\\0")
    except OSError:
        continue
    if b"foc.proxy" not in argv:
        continue
    pid = cmdline.split("/")[2]
    with open(os.path.join({out!r}, "proxy-%s.mem" % pid), "wb") as f:
        f.write(process_memory(pid))
    print("DUMPED", pid)
"""


def _dump_proxies(g: Guest) -> dict[str, bytes]:
    """Memory dumps of every foc-proxy process in guest `g` (leakscan.process_memory run there)."""
    exchange = g.running.run_dir / "secure-storage" / "foc-dump"  # /mnt/state/foc-dump in the guest
    exchange.mkdir(exist_ok=True)
    try:
        script = DUMP_SCRIPT.format(
            function=inspect.getsource(leakscan.process_memory), out="/mnt/state/foc-dump"
        )
        rc, text = g.python(script, timeout=600)
        assert rc == 0 and "DUMPED" in text, text[-2000:]
        return {f"foc-proxy memory, pid {f.stem[6:]}": f.read_bytes() for f in exchange.glob("proxy-*.mem")}
    finally:
        shutil.rmtree(exchange, ignore_errors=True)


def test_no_key_material_leaves_the_tas_during_the_transfer(
    guest: Guest,
    device_b: Guest,
    net: Network,
    measurement: bytes,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """The key-material leak scan over a transfer between two OP-TEE devices: every message the
    normal worlds relayed, memory dumps of both guests' foc-proxy processes and of this process
    (peers, wrappers, client), both guests' proxy logs, both instances' console logs, the ledger and
    FOC home are searched for the keys B's TA imported (read afterwards with a TEST build of the
    TA on B, as tests/qemu/test_confidential_proxy.py does on A)."""
    from test_confidential_proxy import read_sealed_objects

    for org in ("Org1", "Org2"):
        net.enroll_device(org.lower(), replace=True, organisation=org)
    net.define_chaincode(CHAINCODE, version=measurement.hex(), devices={"org1": "Org1", "org2": "Org2"})
    created = net.create_enclave(CHAINCODE, force=True, rekey=True, organisation="Org1")
    net.register_enclave(CHAINCODE, credentials=created.credentials)
    joining, holder = ProxyEnclave(net._device("Org2")), ProxyEnclave(net._device("Org1"))
    blobs: dict[str, bytes] = {}
    blobs["key_request"] = joining.join(net._enclave_config(CHAINCODE, None, "Org2", force=False, rekey=True))
    blobs["key_package"] = holder.export_keys(
        KeyExport(blobs["key_request"], net.device_key_der("Org2")).encode()
    )
    joined = joining.import_keys(KeyImport(blobs["key_package"], net.device_key_der("Org1")).encode())
    blobs["credentials of the joined enclave"] = joined
    net.register_enclave(CHAINCODE, credentials=joined)
    assert net.contract(CHAINCODE).invoke("create", ["erin", "31"]) == b"OK"
    stored = net.ledger.read(CHAINCODE, "erin")
    assert stored is not None

    # Memory dumps, taken before the test reads any key: this process (both organisations' peers,
    # wrappers, the registry and the client) and each guest's foc-proxy (through the 9p share).
    blobs["memory of this process (peers, wrappers, client)"] = leakscan.process_memory()
    for name, g in (("A", guest), ("B", device_b)):
        rc, log = g.console.run("cat /var/log/foc-proxy.log", timeout=60)
        assert rc == 0
        blobs[f"guest {name} /var/log/foc-proxy.log"] = log.encode()
        dumps = _dump_proxies(g)
        assert dumps, f"no foc-proxy process found in guest {name}"
        blobs.update({f"guest {name} {where}": data for where, data in dumps.items()})
    assert any(
        blobs["key_package"] in data for where, data in blobs.items() if "guest A" in where and "pid" in where
    )
    ledger_files = list(tmp_path.glob("dev.sqlite*"))
    blobs.update(leakscan.files_under([guest.running.logs, device_b.running.logs, net.home, *ledger_files]))

    _, objects = read_sealed_objects(device_b, guest, tmp_path / "test-ta")
    _settle(device_b.proxy_address)

    keys = leakscan.KeyMaterial.from_test_command(objects)
    keys.check_against(Credentials.decode(joined), {"erin": stored[0]})  # B's imported keys, in use
    secrets = keys.secrets()
    leakscan.assert_scanner_finds_plants(secrets)
    hits = leakscan.scan(blobs, secrets)
    dumped = sum(len(v) for k, v in blobs.items() if "memory" in k) / 1e6
    report(
        request.config,
        f"leak scan over the transfer: {len(blobs)} messages, logs, files, memory dumps ({dumped:.0f} MB); "
        f"{len(hits)} hit(s)",
    )
    assert hits == [], "key material left the TAs:\n" + "\n".join(hits)
