"""Confidential mode on real OP-TEE through the product path: host -> hostfwd -> guest foc-proxy -> TA.

The administrator's steps run through the `foc` CLI (device enroll --from-proxy: the device key
from GetDeviceKey, i.e. the attestation PTA; chaincode define --ta: the measurement computed
offline from the guest's .ta; enclave create; enclave register on the dev ledger); transactions
run ConfidentialChaincode(ProxyEnclave(ProxyClient)) on the dev ledger with ConfidentialClient.
Then: keys survive a guest proxy restart and a QEMU reboot (a second instance booted with
foc.persist=1), and no plaintext argument, value or result reaches the ledger or any log.
Latencies go to the "qemu tier timings" summary, never asserted.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import leakscan  # tests/leakscan.py
import pytest
import scenarios  # tests/scenarios.py, shared with tests/native

from foc.admin.definitions import DefinitionStore
from foc.admin.devices import DeviceStore
from foc.cli.main import main as foc_main
from foc.client.confidential import ConfidentialClient, ConfidentialResult, PendingRequest
from foc.confidential.formats import Credentials, StoredValue
from foc.deploy import api, paths
from foc.deploy.qemu import free_port
from foc.errors import ChaincodeError
from foc.ledger.ledger import DevLedger
from foc.ledger.peer import DevPeer
from foc.proxy.client import ProxyClient
from foc.registry.ercc import EnclaveRegistry, RegistryQuery
from foc.tee import abi
from foc.wrapper.confidential import ConfidentialChaincode, ProxyEnclave

if TYPE_CHECKING:
    from conftest import Guest  # tests/qemu/conftest.py

pytestmark = pytest.mark.qemu

TA_PATH = f"/lib/optee_armtz/{abi.FOC_TA_UUID_STR}.ta"
TX_TIMEOUT_S = 120.0
CHANNEL = "dev"
CHAINCODE = "coffee"
TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA256 = 0x70414930
FIND_PROXY_PIDS = "grep -l 'foc[.]proxy' /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3"
# Plaintext that must never leave the TA/client unencrypted (the person is a key: keys are clear
# on the ledger by design, so only logs are checked for it).
SECRET_PERSON = "zq-conf-person-8817"
# Long enough that no hex transaction id, nonce or ciphertext in the scanned files holds one by chance
# (a 7-digit secret meets a 1 MiB hex log about once in 250 runs).
SECRET_COUNT = "62915470008817"
SECRET_SUM = "62915470008820"
PERSIST_PERSON = "zq-persist-person-4406"
PERSIST_COUNT = "51839200004406"


def report(config: pytest.Config, text: str) -> None:
    line = f"confidential via proxy on OP-TEE: {text}"
    print(line)
    getattr(config, "foc_qemu_report", []).append(line)


# Everything the FOC side printed or answered in this module, for the key-material leak scan.
OUTPUTS: dict[str, bytes] = {}


def foc(*argv: str) -> str:
    """Run the `foc` CLI in-process; fail with its stderr on a non-zero exit."""
    out, err = io.StringIO(), io.StringIO()
    rc = foc_main(list(argv), out=out, err=err)
    OUTPUTS[f"foc {' '.join(argv)} #{len(OUTPUTS)}"] = (out.getvalue() + err.getvalue()).encode()
    assert rc == 0, f"foc {' '.join(argv)} -> {rc}: {err.getvalue()}"
    return out.getvalue()


def fetch_guest_ta(console) -> bytes:  # noqa: ANN001 - PexpectConsole
    rc, text = console.run(f"base64 {TA_PATH}", timeout=300)
    assert rc == 0, text[-2000:]
    return base64.b64decode("".join(text.split()))


def first_call_settled(client: ProxyClient, config: pytest.Config) -> bytes | None:
    """GetCredentials, absorbing one TA_CRASHED an earlier test's TA panic may have left behind."""
    for attempt in range(2):
        try:
            return client.credentials()
        except ChaincodeError as exc:
            if exc.code == "TA_CRASHED" and attempt == 0:
                report(config, "setup: absorbed a TA_CRASHED left by an earlier test's TA panic")
                continue
            if exc.code == "NOT_FOUND":
                return None
            raise
    return None


@dataclass
class Network:
    """An administrator's $FOC_HOME, a dev ledger with `ercc`, and the confidential chaincode."""

    home: Path
    ledger_path: Path
    client: ProxyClient
    ledger: DevLedger | None = None
    peer: DevPeer | None = None
    executed: list[str] = field(default_factory=list)  # tx ids of the __invoke proposals

    def open(self) -> Network:
        definitions = DefinitionStore(self.home)
        self.ledger = DevLedger(self.ledger_path, channel=CHANNEL)
        self.peer = DevPeer(
            self.ledger,
            {
                "ercc": EnclaveRegistry(definitions, DeviceStore(self.home)),
                CHAINCODE: ConfidentialChaincode(CHAINCODE, ProxyEnclave(self.client), definitions),
            },
        )
        return self

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None

    def confidential_client(self) -> ConfidentialClient:
        assert self.peer is not None
        peer = self.peer
        definition = DefinitionStore(self.home).get(CHAINCODE)
        return ConfidentialClient(definition, RegistryQuery(lambda args: peer.query("ercc", args).response))

    def execute(self, conf: ConfidentialClient, *args: str) -> tuple[PendingRequest, bytes]:
        assert self.peer is not None
        pending = conf.encrypt_request(list(args))
        result = self.peer.query(CHAINCODE, ["__invoke", pending.request])
        OUTPUTS[f"__invoke {result.tx_id}"] = result.response.payload + result.response.message.encode()
        assert result.response.endorsed, result.response.message
        self.executed.append(result.tx_id)
        return pending, result.response.payload

    def submit(self, conf: ConfidentialClient, *args: str) -> ConfidentialResult:
        assert self.peer is not None
        pending, response = self.execute(conf, *args)
        result = conf.open_response(pending, response)
        if result.ok:
            committed = self.peer.invoke(CHAINCODE, ["__endorse", pending.request, response])
            assert committed.committed, committed.response.message
        return result

    def query(self, person: str) -> bytes:
        conf = self.confidential_client()
        pending, response = self.execute(conf, "query", person)
        return conf.open_response(pending, response).value()


def administer(home: Path, ledger: Path, proxy_address: str, ta: Path, device: str, endpoint: str) -> str:
    """The administrator's steps through the CLI; returns the enclave id."""
    env = {"FOC_HOME": str(home)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        enrolled = foc("device", "enroll", device, "--from-proxy", proxy_address)
        assert "trust on first use" in enrolled
        foc("chaincode", "define", "--id", CHAINCODE, "--ta", str(ta), "--channel", CHANNEL)
        created = foc(
            "enclave", "create", "--force", "--chaincode", CHAINCODE, "--channel", CHANNEL,
            "--endpoint", endpoint, "--proxy", proxy_address,
        )  # fmt: skip
        eid = created.split()[2]
        foc("enclave", "register", "--chaincode", CHAINCODE, "--enclave", eid, "--ledger", str(ledger))
        listed = foc("enclave", "list", "--chaincode", CHAINCODE, "--ledger", str(ledger))
        assert listed.startswith(eid) and "optee-ta-memory-v1" in listed
        return eid
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def guest_ta(guest: Guest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ta") / f"{abi.FOC_TA_UUID_STR}.ta"
    path.write_bytes(fetch_guest_ta(guest.console))
    return path


@pytest.fixture(scope="module")
def client(guest: Guest, request: pytest.FixtureRequest) -> Iterator[ProxyClient]:
    if guest.running.ready != "proxy ready":
        pytest.fail(f"the guest proxy is not serving: the target came up as {guest.running.ready!r}")
    with ProxyClient(guest.proxy_address, default_timeout=TX_TIMEOUT_S) as c:
        first_call_settled(c, request.config)
        yield c


@pytest.fixture(scope="module")
def network(
    guest: Guest, client: ProxyClient, guest_ta: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Network]:
    root = tmp_path_factory.mktemp("conf-proxy")
    net = Network(root / "home", root / "ledger.sqlite", client)
    t0 = time.monotonic()
    administer(net.home, net.ledger_path, guest.proxy_address, guest_ta, "qemu-1", "qemu-1:7052")
    net.t_admin = time.monotonic() - t0  # type: ignore[attr-defined]
    net.open()
    try:
        yield net
    finally:
        net.close()


def test_device_key_comes_from_the_attestation_pta(client: ProxyClient, network: Network) -> None:
    info = client.device_key_info()
    assert info.kind == "optee-pta" and info.tee_algorithm == TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA256
    device = DeviceStore(network.home).get("qemu-1")
    assert device.public_key.key_size == 3072
    assert client.device_key() == client.device_key()  # cached: the same key every time
    # the registered enclave's evidence verified under exactly this key (registration checked it)
    creds = Credentials.decode(client.credentials())
    assert creds.evidence.kind == "optee-ta-memory-v1"
    assert len(creds.evidence.signature) == 384


def test_create_register_invoke_validate_commit_query(
    network: Network, client: ProxyClient, request: pytest.FixtureRequest
) -> None:
    before = client.health()
    conf = network.confidential_client()
    t0 = time.monotonic()
    assert network.submit(conf, "create", SECRET_PERSON, SECRET_COUNT).value() == b"OK"
    t_create = time.monotonic() - t0
    assert network.submit(conf, "add", SECRET_PERSON, "3").value() == b"OK"
    t0 = time.monotonic()
    assert (
        network.query(SECRET_PERSON)
        == f"person: {SECRET_PERSON}, number of consumed coffees: {SECRET_SUM}".encode()
    )
    t_query = time.monotonic() - t0
    after = client.health()
    assert after.sessions_opened_total == before.sessions_opened_total  # no OpenSession per tx
    assert after.ta_restarts_total == before.ta_restarts_total
    assert network.ledger is not None
    stored = {k: v for (ns, k), (v, _) in network.ledger.state_dump().items() if ns == CHAINCODE}
    StoredValue.decode(stored[SECRET_PERSON])
    assert network.ledger.verify().ok
    report(
        request.config,
        f"admin (enroll, define --ta, create, register) {network.t_admin:.1f} s; "  # type: ignore[attr-defined]
        f"create tx (__invoke + verify + __endorse) {t_create * 1000:.0f} ms, query {t_query * 1000:.0f} ms",
    )


def test_recreate_is_refused_and_bad_requests_are_structured_errors(
    network: Network, client: ProxyClient
) -> None:
    creds = client.credentials()
    definition = DefinitionStore(network.home).get(CHAINCODE)
    from foc.confidential.formats import EnclaveConfig

    with pytest.raises(ChaincodeError) as err:
        client.create_enclave(EnclaveConfig(CHAINCODE, definition.version, CHANNEL, "qemu-1:7052").encode())
    assert err.value.code == "EXISTS"
    assert client.credentials() == creds
    conf = network.confidential_client()
    pending = conf.encrypt_request(["create", SECRET_PERSON, SECRET_COUNT])
    tampered = bytearray(pending.request)
    tampered[-5] ^= 1
    for bad in (bytes(tampered), b"not a request"):
        with pytest.raises(ChaincodeError) as err:
            client.invoke_confidential(bad, get_state=lambda key: None, transaction_id="tx-bad")
        assert err.value.code == "BAD_REQUEST"
        OUTPUTS[f"refusal #{len(OUTPUTS)}"] = str(err.value).encode()
    assert client.health().serving
    assert network.query(SECRET_PERSON).endswith(SECRET_SUM.encode())  # still serving


def test_value_at_the_confidential_limit_is_written_and_read_back(network: Network) -> None:
    """A FOC_MAX_VALUE-byte value written by the TA on OP-TEE, committed encrypted, and read back."""
    assert network.peer is not None
    conf = network.confidential_client()
    scenarios.confidential_value_at_the_limit_is_written_and_read_back(
        network.peer, CHAINCODE, lambda args: network.submit(conf, *args).value()
    )


def test_stored_value_at_and_beyond_the_confidential_limit(network: Network) -> None:
    """A stored value of FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD bytes reaches the TA on OP-TEE."""
    assert network.peer is not None
    conf = network.confidential_client()
    scenarios.confidential_stored_value_at_and_beyond_the_limit(
        network.peer, CHAINCODE, lambda key: conf.encrypt_request(["query", key]).request
    )
    assert network.query(SECRET_PERSON).endswith(SECRET_SUM.encode())  # the enclave still serves


def _guest_proxy_pids(guest: Guest) -> list[int]:
    rc, out = guest.console.run(FIND_PROXY_PIDS, timeout=30)
    return [int(p) for p in out.split() if p.isdigit()]


def test_keys_survive_a_proxy_restart(
    guest: Guest, network: Network, client: ProxyClient, request: pytest.FixtureRequest
) -> None:
    creds = client.credentials()
    pids = _guest_proxy_pids(guest)
    assert len(pids) == 1, pids
    argv = guest.console.check(f"tr '\\0' ' ' < /proc/{pids[0]}/cmdline", timeout=30).strip()
    env = guest.console.check(f"tr '\\0' '\\n' < /proc/{pids[0]}/environ | grep '^PYTHONPATH='", timeout=30)
    guest.console.check(f"kill -9 {pids[0]}", timeout=30)
    guest.console.check(
        f"(cd / && setsid env {env.strip()} {argv} >>/var/log/foc-proxy.log 2>&1 </dev/null &)", timeout=30
    )
    t_restart = guest.wait_for_proxy()
    assert client.credentials() == creds  # the same channel reconnects
    t0 = time.monotonic()
    assert network.query(SECRET_PERSON).endswith(SECRET_SUM.encode())  # old state decrypts
    report(
        request.config,
        f"proxy restart to healthy {t_restart:.1f} s, "
        f"first confidential query after {time.monotonic() - t0:.2f} s",
    )


def test_keys_survive_a_qemu_reboot_with_persistent_storage(
    guest_ta: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A second instance: create, commit, down, up; same credentials, old value decrypts.

    Secure storage is persistent per instance by default; foc.persist=1 states it explicitly.
    """
    instance = f"pytest-conf-persist-{os.getpid()}"  # own name (several sessions run at once); swept as stale
    port = free_port()
    net = Network(tmp_path / "home", tmp_path / "ledger.sqlite", None)  # type: ignore[arg-type]
    timings: list[str] = []
    try:
        t0 = time.monotonic()
        running = api.up("qemu", port=port, instance=instance, kernel_args=("foc.persist=1",))
        timings.append(f"boot {time.monotonic() - t0:.0f} s")
        with ProxyClient(running.proxy_address, default_timeout=TX_TIMEOUT_S) as c:
            # the same TA as the test guest: the same image
            administer(
                net.home, net.ledger_path, running.proxy_address, guest_ta, "qemu-persist", "persist:7052"
            )
            creds = c.credentials()
            net.client = c
            net.open()
            assert (
                net.submit(net.confidential_client(), "create", PERSIST_PERSON, PERSIST_COUNT).value()
                == b"OK"
            )
            net.close()
        api.down("qemu", instance=instance)
        t0 = time.monotonic()
        # a new port: the first one is an ephemeral port that any client socket may have taken since
        running = api.up(
            "qemu", port=free_port(), instance=instance, build=False, kernel_args=("foc.persist=1",)
        )
        timings.append(f"reboot {time.monotonic() - t0:.0f} s")
        with ProxyClient(running.proxy_address, default_timeout=TX_TIMEOUT_S) as c:
            assert c.credentials() == creds
            net.client = c
            net.open()
            assert net.query(PERSIST_PERSON).endswith(f"coffees: {PERSIST_COUNT}".encode())
            net.close()
        _assert_no_plaintext_in(
            [running.logs / "normal-world.log", running.logs / "secure-world.log", net.ledger_path],
            [PERSIST_COUNT],
            [PERSIST_PERSON, PERSIST_COUNT],
        )
    finally:
        net.close()
        api.down("qemu", instance=instance)
    report(request.config, f"persistence across a QEMU reboot (foc.persist=1): {', '.join(timings)}")


def _assert_no_plaintext_in(paths: list[Path], ledger_secrets: list[str], log_secrets: list[str]) -> None:
    for path in paths:
        files = [path, *path.parent.glob(path.name + "-*")] if path.suffix == ".sqlite" else [path]
        for f in files:
            data = f.read_bytes()
            secrets = ledger_secrets if path.suffix == ".sqlite" else log_secrets
            for secret in secrets:
                assert secret.encode() not in data, f"{secret!r} appears in {f}"


def test_no_plaintext_in_the_ledger_or_any_log(guest: Guest, network: Network) -> None:
    rc, proxy_log = guest.console.run("cat /var/log/foc-proxy.log", timeout=60)
    # The confidential transactions were logged under the peer's own transaction ids (the enclave
    # interface carries the stub's tx id end to end)...
    assert rc == 0 and network.executed
    for tx_id in network.executed:
        assert f"tx {tx_id[:64]} ta=coffee mode=confidential outcome=OK" in proxy_log, tx_id
    for secret in (SECRET_PERSON, SECRET_COUNT, SECRET_SUM):
        assert secret not in proxy_log  # ...without their arguments, keys, values or results
    logs = guest.running.logs
    _assert_no_plaintext_in(
        [logs / "normal-world.log", logs / "secure-world.log", network.ledger_path],
        [SECRET_COUNT, SECRET_SUM],
        [SECRET_PERSON, SECRET_COUNT, SECRET_SUM],
    )


# -- keys never leave the TA ---------------------------------------------------------------------


SEALED_OBJECTS_SCRIPT = """
import ctypes, shutil
from foc.errors import TaCrashed, TeeError
from foc.tee import abi
from foc.tee import libteec as L

TA, TEST_TA, SAVED, OUT, CMD = {ta!r}, {test_ta!r}, "/tmp/foc-production.ta", {out!r}, {cmd}

def test_command(session):
    # the layout the test build wants: NONE, VALUE_OUTPUT, MEMREF_OUTPUT (so a refusal is not a layout one)
    op = L.TEEC_Operation()
    op.paramTypes = L.param_types(L.TEEC_NONE, L.TEEC_VALUE_OUTPUT, L.TEEC_MEMREF_PARTIAL_OUTPUT)
    op.params[2].memref.parent = ctypes.cast(ctypes.byref(session._out), ctypes.POINTER(L.TEEC_SharedMemory))
    op.params[2].memref.size = session._out.s.size
    try:
        session._call(CMD, op)
    except TeeError as exc:
        return "refused", "0x%08x" % exc.code
    return "answered", ctypes.string_at(session._out.s.buffer, op.params[1].value.b)

def reload(backend):
    # the TA is single-instance and keep-alive: kill the instance, so the next session loads the file
    s = backend.open_session()
    try:
        s.invoke(abi.FOC_CMD_PANIC)
    except TaCrashed:
        pass
    s.close()

backend = L.LibteecBackend()
s = backend.open_session()
print("PRODUCTION", *test_command(s))
s.close()
shutil.copy2(TA, SAVED)
try:
    shutil.copy2(TEST_TA, TA)
    reload(backend)
    s = backend.open_session()
    kind, data = test_command(s)
    s.close()
    if kind == "answered":
        with open(OUT, "wb") as f:
            f.write(data)
        print("TEST answered", len(data))
    else:
        print("TEST", kind, data)
finally:
    shutil.copy2(SAVED, TA)
    reload(backend)
s = backend.open_session()
print("RESTORED", *test_command(s))
s.close()
backend.close()
print("DONE")
"""


def build_test_ta(guest: Guest, out: Path) -> Path:
    """The TA of this checkout built with FOC_TEST_COMMANDS=y against the guest image's dev kit."""
    image = api.booted_image("qemu", instance=guest.instance)
    assert image is not None, f"no image recorded for instance {guest.instance}"
    key = json.loads(image.manifest.read_text())["steps"]["optee_os"]["key"]
    optee_os = paths.cache_root() / "steps" / "optee_os" / key  # as foc-deploy's TA step builds it
    kit = optee_os / "export-ta_arm64"
    assert (kit / "mk" / "ta_dev_kit.mk").is_file(), f"the image's TA dev kit is gone: {kit}"
    build = subprocess.run(
        [
            "make", "-j2", "-C", str(leakscan.TA_DIR), "CROSS_COMPILE=aarch64-linux-gnu-",
            "PYTHON3=/usr/bin/python3", f"TA_DEV_KIT_DIR={kit}", f"FOC_MBEDTLS_DIR={optee_os / 'mbedtls'}",
            f"O={out}", "FOC_TEST_COMMANDS=y",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    return out / f"{abi.FOC_TA_UUID_STR}.ta"


def read_sealed_objects(target: Guest, builder: Guest, tmp: Path) -> tuple[dict[str, list[str]], bytes]:
    """Swap a TEST build of the TA (built against `builder`'s image, in `tmp`) in for the production TA
    of `target` under the same UUID, read its sealed objects with FOC_CMD_TEST_SEALED_OBJECTS, put
    the production TA back. Returns the script's report lines ({"PRODUCTION": ["refused", code],
    "TEST": ["answered", n], "RESTORED": [...]}) and the objects' bytes (leakscan.KeyMaterial)."""
    exchange = target.running.run_dir / "secure-storage" / "foc-test"  # /mnt/state in the guest (9p)
    exchange.mkdir(exist_ok=True)
    try:
        test_ta = build_test_ta(builder, tmp)
        shutil.copy2(test_ta, exchange / test_ta.name)
        script = SEALED_OBJECTS_SCRIPT.format(
            ta=TA_PATH,
            test_ta=f"/mnt/state/foc-test/{test_ta.name}",
            out="/mnt/state/foc-test/objects.bin",
            cmd=leakscan.sealed_objects_command_id(),
        )
        rc, text = target.python(script, timeout=600)
        assert rc == 0 and "DONE" in text, text[-3000:]
        lines = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line[:1].isupper()}
        assert lines["TEST"][0] == "answered", lines["TEST"]
        return lines, (exchange / "objects.bin").read_bytes()
    finally:
        shutil.rmtree(exchange, ignore_errors=True)


def test_no_key_material_leaves_the_ta(
    guest: Guest, network: Network, client: ProxyClient, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """After the confidential scenario of this module, read the sealed keys with a TEST build of the
    TA (same UUID, so OP-TEE opens its sealed objects for it: the caveat in docs/threat-model.md),
    and search every output, log, ledger file and answer of the scenario for them. The production
    TA in the image refuses the test-only command (TEE_ERROR_NOT_SUPPORTED), before and after."""
    # Everything the scenario produced, read before any key leaves the TA for the test.
    rc, proxy_log = guest.console.run("cat /var/log/foc-proxy.log", timeout=60)
    assert rc == 0 and "mode=confidential" in proxy_log
    blobs = dict(OUTPUTS)
    blobs["guest /var/log/foc-proxy.log"] = proxy_log.encode()
    blobs["GetCredentials"] = client.credentials()
    blobs["GetDeviceKey"] = client.device_key_info().SerializeToString()
    logs = guest.running.logs
    state_dir = guest.running.run_dir / "secure-storage"
    ledger_files = network.ledger_path.parent.glob(network.ledger_path.name + "*")
    blobs.update(leakscan.files_under([logs, network.home, *ledger_files, state_dir / "tee"]))
    assert str(logs / "normal-world.log") in blobs and str(logs / "secure-world.log") in blobs
    assert any(where.startswith("__invoke") for where in blobs), "the scenario recorded no enclave answer"

    lines, objects = read_sealed_objects(guest, guest, tmp_path / "test-ta")
    assert lines["PRODUCTION"] == ["refused", "0xffff000a"], "the production TA answers the test command"
    assert lines["RESTORED"] == ["refused", "0xffff000a"], "the production TA was not restored"
    # the proxy's sessions died with the instance: absorb the TA_CRASHED, then serve again
    first_call_settled(client, request.config)
    assert network.query(SECRET_PERSON).endswith(SECRET_SUM.encode())

    keys = leakscan.KeyMaterial.from_test_command(objects)
    assert network.ledger is not None
    dump = network.ledger.state_dump()
    stored = {SECRET_PERSON: dump[(CHAINCODE, SECRET_PERSON)][0]}  # written by the enclave in this module
    keys.check_against(Credentials.decode(client.credentials()), stored)
    secrets = keys.secrets()
    leakscan.assert_scanner_finds_plants(secrets)
    hits = leakscan.scan(blobs, secrets)
    report(request.config, f"key-material leak scan: {len(blobs)} outputs, logs, files; {len(hits)} hit(s)")
    assert hits == [], "key material left the TA:\n" + "\n".join(hits)
