"""Confidential mode from the user's side, on the host-native build (NOT a TEE) behind a real
foc-proxy: the admin CLI (enroll, define, create, register), `foc invoke` / `foc query` (confidential
by default), the SDK (`foc.connect`: a confidential contract over the dev ledger and the proxy), and
`foc demo --tee native`. Sealed objects live in a temporary FOC_NATIVE_STORAGE, definitions and
device keys in a temporary FOC_HOME."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from foc import connect
from foc.cli import main as cli
from foc.client.confidential import ConfidentialChaincodeError
from foc.confidential.formats import StoredValue
from foc.deploy.native import LocalProxy
from foc.errors import AttestationError
from foc.ledger.ledger import DevLedger

pytestmark = pytest.mark.native

NATIVE_MEASUREMENT = hashlib.sha256(b"FOC native-insecure-v1: not a TEE, nothing measured").hexdigest()
SECRET_PERSON = "zq-client-person-7731"
SECRET_COUNT = "918273"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProxy]:
    storage = tmp_path_factory.mktemp("sealed")
    old = os.environ.get("FOC_NATIVE_STORAGE")
    os.environ["FOC_NATIVE_STORAGE"] = str(storage)
    try:
        local = LocalProxy("native", pool=2).start()
    finally:
        if old is None:
            del os.environ["FOC_NATIVE_STORAGE"]
        else:
            os.environ["FOC_NATIVE_STORAGE"] = old
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def env(proxy: LocalProxy, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FOC_HOME": str(tmp_path / "home"),
        "FOC_LEDGER": str(tmp_path / "dev.sqlite"),
        "FOC_PROXY_ADDRESS": proxy.address,
        "FOC_CONFIG": str(tmp_path / "absent.toml"),
    }


def foc(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "foc.cli.main", *args],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=120,
    )


def ok(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_cli_flow_confidential_by_default(env: dict[str, str], proxy: LocalProxy, tmp_path: Path) -> None:
    # Before anything is set up, invoke says what to run.
    undefined = foc(env, "invoke", "create", SECRET_PERSON, SECRET_COUNT)
    assert undefined.returncode == 3 and "foc chaincode define" in undefined.stderr
    ok(foc(env, "chaincode", "define", "--id", "coffee", "--version", NATIVE_MEASUREMENT, "--channel", "dev"))
    unregistered = foc(env, "invoke", "create", SECRET_PERSON, SECRET_COUNT)
    assert unregistered.returncode == 3, unregistered.stderr
    assert "foc enclave create" in unregistered.stderr and "foc enclave register" in unregistered.stderr

    ok(foc(env, "device", "enroll", "native", "--from-proxy", proxy.address))
    ok(
        foc(
            env, "enclave", "create", "--force", "--chaincode", "coffee", "--channel", "dev",
            "--endpoint", "native-cli:7052", "--proxy", proxy.address,
        )
    )  # fmt: skip
    ok(foc(env, "enclave", "register", "--chaincode", "coffee", "--allow-insecure-native"))

    # The client re-verifies attestation: the native build's evidence needs the explicit flag.
    refused = foc(env, "invoke", "create", SECRET_PERSON, SECRET_COUNT)
    assert refused.returncode == 11 and "native" in refused.stderr, refused.stderr
    flag = "--allow-insecure-native"
    created = foc(env, "invoke", flag, "create", SECRET_PERSON, SECRET_COUNT)
    assert (created.returncode, created.stdout) == (0, "OK\n"), created.stderr
    assert "committed tx" in created.stderr and "verified: enclave" in created.stderr
    assert SECRET_PERSON not in created.stderr and SECRET_COUNT not in created.stderr
    assert ok(foc(env, "invoke", flag, "add", SECRET_PERSON, "1")) == "OK\n"
    queried = ok(foc(env, "query", flag, "query", SECRET_PERSON))
    assert queried == f"person: {SECRET_PERSON}, number of consumed coffees: {int(SECRET_COUNT) + 1}\n"
    exists = foc(env, "invoke", flag, "create", SECRET_PERSON, "1")
    assert exists.returncode == 9 and exists.stdout == ""
    assert exists.stderr.strip().splitlines() == ["foc: error: EXISTS: person already exists"]
    missing = foc(env, "query", flag, "query", "nobody-here")
    assert missing.returncode == 9 and "NOT_FOUND" in missing.stderr

    # The ledger holds ciphertext: no count, no result text, no arguments (key names are cleartext).
    ledger_path = Path(env["FOC_LEDGER"])
    with DevLedger(ledger_path) as ledger:
        stored = ledger.read("coffee", SECRET_PERSON)
        assert stored is not None and ledger.verify().ok
    StoredValue.decode(stored[0])
    wal = Path(f"{ledger_path}-wal")
    raw = ledger_path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    for secret in (SECRET_COUNT, str(int(SECRET_COUNT) + 1), "consumed coffees"):
        assert secret.encode() not in raw and secret.encode().hex().encode() not in raw, secret

    # --plaintext still takes FOC's path (its own namespace `foc`, in the clear).
    plain = foc(env, "invoke", "--plaintext", "create", "plain-person", "4")
    assert plain.returncode == 0, plain.stderr
    with DevLedger(ledger_path) as ledger:
        assert ledger.read("foc", "plain-person")[0] == b"4"  # type: ignore[index]


def test_sdk_over_dev_network_with_proxy_enclave(
    env: dict[str, str], proxy: LocalProxy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = Path(env["FOC_HOME"])
    monkeypatch.setenv("FOC_HOME", str(home))
    ok(foc(env, "chaincode", "define", "--id", "coffee", "--version", NATIVE_MEASUREMENT, "--channel", "dev"))
    ok(foc(env, "device", "enroll", "native", "--from-proxy", proxy.address))
    ok(
        foc(
            env, "enclave", "create", "--force", "--chaincode", "coffee", "--channel", "dev",
            "--endpoint", "native-sdk:7052", "--proxy", proxy.address,
        )
    )  # fmt: skip
    ok(foc(env, "enclave", "register", "--chaincode", "coffee", "--allow-insecure-native"))
    # Without the explicit opt-in, the client refuses the host-native build's evidence.
    with connect(ledger=env["FOC_LEDGER"], proxy=proxy.address, home=home) as net:
        with pytest.raises(AttestationError):
            net.contract("coffee").query("query", ["alice"])
    with connect(ledger=env["FOC_LEDGER"], proxy=proxy.address, home=home, allow_insecure_native=True) as net:
        coffee = net.contract("coffee")
        assert coffee.invoke("create", ["alice", "0"]) == b"OK"
        assert coffee.invoke("add", ["alice", "3"]) == b"OK"
        assert coffee.query("query", ["alice"]) == b"person: alice, number of consumed coffees: 3"
        height = net.ledger.height
        with pytest.raises(ConfidentialChaincodeError) as caught:
            coffee.invoke("create", ["alice", "1"])
        assert (caught.value.code, caught.value.status) == ("EXISTS", 500)
        with pytest.raises(ConfidentialChaincodeError) as caught:
            coffee.invoke("add", ["bob", "1"])
        assert caught.value.code == "NOT_FOUND"
        assert net.ledger.height == height, "a refused invocation committed something"


def test_demo_native_is_confidential_and_shows_ciphertext_only(tmp_path: Path, proxy: LocalProxy) -> None:
    out, err = io.StringIO(), io.StringIO()
    ledger_path = tmp_path / "demo.sqlite"
    rc = cli.main(["demo", "--proxy", proxy.address, "--ledger", str(ledger_path)], out=out, err=err)
    text = out.getvalue()
    assert rc == 0, text + err.getvalue()
    assert "NOT a TEE" in text and "native-insecure-v1 evidence" in text
    assert text.count("[ok ]") == 5 and "summary: 5/5 steps behaved as expected" in text
    assert "-> person: alice, number of consumed coffees: 3" in text
    assert "-> EXISTS: person already exists" in text and "-> NOT_FOUND: person not found" in text
    assert "ciphertext only: yes" in text and "LEAK" not in text
    assert (tmp_path / "demo-home" / "chaincodes" / "coffee" / "definition.json").exists()
    with DevLedger(ledger_path) as ledger:
        assert ledger.height == 4 and ledger.verify().ok


def _set_up_coffee(env: dict[str, str], proxy: LocalProxy, endpoint: str) -> None:
    ok(foc(env, "chaincode", "define", "--id", "coffee", "--version", NATIVE_MEASUREMENT, "--channel", "dev"))
    ok(foc(env, "device", "enroll", "native", "--from-proxy", proxy.address))
    ok(
        foc(
            env, "enclave", "create", "--force", "--chaincode", "coffee", "--channel", "dev",
            "--endpoint", endpoint, "--proxy", proxy.address,
        )
    )  # fmt: skip
    ok(foc(env, "enclave", "register", "--chaincode", "coffee", "--allow-insecure-native"))


def _concurrently(env: dict[str, str], n: int, *args: str) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "foc.cli.main", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env),
        )
        for _ in range(n)
    ]
    done = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def test_concurrent_confidential_adds_conflict_as_exit_10_and_retry_commits_them_all(
    env: dict[str, str], proxy: LocalProxy
) -> None:
    """Issue 8, kind 3: with 8 concurrent `foc invoke add alice 1`, every loser is a read conflict
    (exit 10: "a key it read changed before commit"), never a chaincode refusal (exit 9); with
    `--retry N` each one runs again from scratch until it commits, so none is lost."""
    _set_up_coffee(env, proxy, "native-race:7052")
    flag = "--allow-insecure-native"
    ok(foc(env, "invoke", flag, "create", "alice", "0"))
    runs = _concurrently(env, 8, "invoke", flag, "add", "alice", "1")
    codes = sorted(r.returncode for r in runs)
    assert set(codes) <= {0, 10}, [(r.returncode, r.stderr) for r in runs]
    assert codes.count(0) >= 1
    for r in runs:
        if r.returncode == 10:
            assert "read" in r.stderr and "chaincode refused" not in r.stderr, r.stderr
    committed = codes.count(0)
    assert ok(foc(env, "query", flag, "query", "alice")).endswith(f"coffees: {committed}\n")

    runs = _concurrently(env, 8, "invoke", flag, "--retry", "50", "add", "alice", "1")
    assert [r.returncode for r in runs] == [0] * 8, [r.stderr for r in runs if r.returncode]
    assert ok(foc(env, "query", flag, "query", "alice")).endswith(f"coffees: {committed + 8}\n")


def test_arguments_that_are_not_utf8_reach_the_ta_as_bytes_in_both_modes(
    env: dict[str, str], proxy: LocalProxy
) -> None:
    """Issue 8, kind 2, on the real trusted core: the shell's bytes reach the TA; the TA's stub refuses
    a state key that is not UTF-8 (as Fabric does) with BAD_ARGUMENT, exit 9, in plaintext and in
    confidential mode; a count that is not a number is the chaincode's own BAD_ARGUMENT."""
    _set_up_coffee(env, proxy, "native-bytes:7052")
    cli = [sys.executable.encode(), b"-m", b"foc.cli.main"]
    flag = b"--allow-insecure-native"
    cases = [
        ([b"invoke", b"--plaintext", b"create", b"\xff\xfe", b"1"], 9, b"not valid UTF-8"),
        ([b"invoke", flag, b"create", b"\xff\xfe", b"1"], 9, b"not valid UTF-8"),
        ([b"invoke", flag, b"create", b"ok-person", b"1\xff"], 9, b"BAD_ARGUMENT"),
        ([b"invoke", flag, b"\xff\xfe", b"x"], 9, b"UNKNOWN_FUNCTION"),
        ([b"invoke", b"--plaintext", b"\xff\xfe", b"x"], 2, b"UTF-8"),
    ]
    for argv, code, fragment in cases:
        run = subprocess.run([*cli, *argv], capture_output=True, env=dict(env), timeout=120)
        assert run.returncode == code, (argv, run.stderr)
        assert fragment in run.stderr and b"internal error" not in run.stderr, (argv, run.stderr)
        assert run.stderr.count(b"\n") == 1
    with DevLedger(Path(env["FOC_LEDGER"])) as ledger:
        assert ledger.height == 2  # the registration and nothing else
