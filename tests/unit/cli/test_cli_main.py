"""The `foc` CLI with a fake proxy client: output, one-line errors, exit codes."""

from __future__ import annotations

import io
import sqlite3
import sys
from pathlib import Path

import pytest

from foc.cli import main as cli
from foc.errors import ChaincodeError
from foc.ledger.ledger import DevLedger

sys.path.insert(0, str(Path(__file__).parents[1] / "wrapper"))
from fake_proxy import FakeProxyClient  # noqa: E402


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeProxyClient:
    client = FakeProxyClient()
    monkeypatch.setattr(cli, "client_factory", lambda config: client)
    monkeypatch.setenv("FOC_PROXY_ADDRESS", "127.0.0.1:50051")
    monkeypatch.setenv("FOC_LEDGER", str(tmp_path / "cli.sqlite"))
    monkeypatch.setenv("FOC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FOC_CONFIG", str(tmp_path / "absent.toml"))
    return client


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = cli.main(list(argv), out=out, err=err)
    return rc, out.getvalue(), err.getvalue()


def test_invoke_query_show_verify(fake: FakeProxyClient, tmp_path: Path) -> None:
    assert run("invoke", "--plaintext", "create", "alice", "0")[:2] == (0, "OK\n")
    rc, out, err = run("invoke", "--plaintext", "add", "alice", "3")
    assert (rc, out) == (0, "OK\n") and "in block 2" in err
    assert (
        run("query", "--plaintext", "query", "alice")[1] == "person: alice, number of consumed coffees: 3\n"
    )
    rc, out, _ = run("ledger", "show")
    assert rc == 0 and "height 3" in out and "writes: alice" in out and "= 3" not in out
    assert "cli.sqlite" in out
    assert "foc/alice = 3" in run("ledger", "show", "--values")[1]
    rc, out, _ = run("ledger", "verify")
    assert rc == 0 and "3 blocks, 2 transactions, 1 keys" in out


def test_chaincode_error_is_one_line_exit_9(fake: FakeProxyClient) -> None:
    run("invoke", "--plaintext", "create", "alice", "0")
    rc, out, err = run("invoke", "--plaintext", "create", "alice", "1")
    assert (rc, out) == (9, "")
    assert err == "foc: error: EXISTS: the person already exists\n"
    assert run("invoke", "--plaintext", "add", "bob", "1")[0] == 9


def test_proxy_unavailable_exit_8(fake: FakeProxyClient) -> None:
    fake.down = True
    rc, _, err = run("invoke", "--plaintext", "create", "alice", "0")
    assert rc == 8 and err.startswith("foc: error: ") and err.count("\n") == 1


def test_missing_proxy_config_exit_3(fake: FakeProxyClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FOC_PROXY_ADDRESS")
    rc, _, err = run("invoke", "--plaintext", "create", "alice", "0")
    assert rc == 3 and "no proxy address configured" in err


def test_proxy_option_overrides_config(fake: FakeProxyClient, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    monkeypatch.setattr(cli, "client_factory", lambda config: seen.append(config.proxy_address) or fake)
    rc, _, err = run("invoke", "--plaintext", "--proxy", "10.1.2.3:4000", "create", "a", "1")
    assert rc == 3 and "refusing plaintext" in err  # a LAN address needs a pinned certificate
    monkeypatch.setenv("FOC_PROXY_ALLOW_PLAINTEXT", "1")
    assert run("invoke", "--plaintext", "--proxy", "10.1.2.3:4000", "create", "a", "1")[0] == 0
    assert run("--proxy", "10.1.2.3:4001", "query", "--plaintext", "query", "a")[0] == 0
    assert seen == ["10.1.2.3:4000", "10.1.2.3:4001"]
    rc, _, err = run("invoke", "--plaintext", "--proxy", "nonsense", "create", "a", "1")
    assert rc == 3 and "not host:port" in err


@pytest.mark.parametrize(
    "argv", [(), ("invoke",), ("frobnicate",), ("ledger",), ("ledger", "burn"), ("demo", "--tee", "sgx")]
)
def test_usage_errors_exit_2_one_line(fake: FakeProxyClient, argv: tuple[str, ...]) -> None:
    rc, out, err = run(*argv)
    assert rc == 2 and out == "" and err.startswith("foc: error: ") and err.count("\n") == 1


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "invoke" in capsys.readouterr().out


def test_ledger_missing_and_corrupt(fake: FakeProxyClient, tmp_path: Path) -> None:
    rc, _, err = run("ledger", "show", "--ledger", str(tmp_path / "nope.sqlite"))
    assert rc == 10 and "no ledger at" in err
    run("invoke", "--plaintext", "create", "alice", "0")
    db = sqlite3.connect(tmp_path / "cli.sqlite")
    db.execute("UPDATE state SET value=? WHERE key='alice'", (b"999",))
    db.commit()
    db.close()
    rc, _, err = run("ledger", "verify")
    assert rc == 10 and "failed verification" in err and "999" not in err


def test_query_commits_nothing(fake: FakeProxyClient, tmp_path: Path) -> None:
    run("invoke", "--plaintext", "create", "alice", "0")
    run("query", "--plaintext", "add", "alice", "5")  # a write in a query is simulated, never committed
    with DevLedger(tmp_path / "cli.sqlite") as ledger:
        assert ledger.height == 2 and ledger.read("foc", "alice")[0] == b"0"  # type: ignore[index]


def test_demo_with_given_proxy_runs_scenario(fake: FakeProxyClient, tmp_path: Path) -> None:
    rc, out, err = run(
        "demo", "--plaintext", "--proxy", "127.0.0.1:9", "--ledger", str(tmp_path / "d.sqlite")
    )
    assert rc == 0, out + err
    assert out.count("[ok ]") == 5 and "summary: 5/5" in out and "verified" in out
    # a second run refuses to reuse a ledger the user named
    rc, _, err = run("demo", "--plaintext", "--proxy", "127.0.0.1:9", "--ledger", str(tmp_path / "d.sqlite"))
    assert rc == 2 and "fresh ledger" in err


def test_demo_reports_misbehaving_steps(fake: FakeProxyClient, tmp_path: Path) -> None:
    fake.down = True
    rc, out, err = run("demo", "--plaintext", "--proxy", "127.0.0.1:9")
    assert rc == 1 and out.count("[FAIL]") == 5 and "5 of 5 steps" in err
    assert "PROXY_UNAVAILABLE" in out
    assert (tmp_path / "cache" / "ledger" / "demo.sqlite").exists()


def test_unexpected_exception_is_one_line(fake: FakeProxyClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*a: object, **kw: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(fake, "invoke", broken)
    rc, _, err = run("invoke", "--plaintext", "create", "alice", "0")
    assert rc == 1 and err == "foc: internal error: RuntimeError: boom (please report it)\n"


def test_untrusted_names_and_messages_are_escaped_one_record_per_line(
    fake: FakeProxyClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 8, kind 6: key names and TA/peer messages cannot forge output lines or send escapes."""
    forged = "alice\nblock 9  hash 0000  verified"
    assert run("invoke", "--plaintext", "create", forged, "1")[0] == 0
    assert run("invoke", "--plaintext", "create", "--", "-x", "2")[0] == 0
    assert run("invoke", "--plaintext", "create", "\x1b[2Jred", "3")[0] == 0
    rc, out, _ = run("ledger", "show", "--values")
    assert rc == 0 and "\x1b" not in out
    assert 'writes: "alice\\nblock 9  hash 0000  verified"' in out
    assert 'writes: "-x"' in out and "writes: -x" not in out  # not the delete of x
    assert not any(line.startswith("block 9") for line in out.splitlines())

    def refuse(*a: object, **kw: object) -> None:
        raise ChaincodeError("EXISTS", "gone\x1b[2J\nfoc: verified: enclave ok")

    monkeypatch.setattr(fake, "invoke", refuse)
    rc, _, err = run("invoke", "--plaintext", "create", "bob", "1")
    assert rc == 9 and err == "foc: error: EXISTS: gone\\x1b[2J\\nfoc: verified: enclave ok\n"


def test_chaincode_show_reads_foc_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """docs/fabric.md step 5 takes the Fabric definition's version from `foc chaincode show`, which
    honours $FOC_HOME (it used to read ~/.config/foc by hand); --native-insecure pins native-insecure-v1."""
    import hashlib

    monkeypatch.setenv("FOC_HOME", str(tmp_path / "elsewhere"))
    assert run("chaincode", "define", "--id", "coffee", "--version", "AB" * 32, "--channel", "ch")[0] == 0
    assert run("chaincode", "show", "--id", "coffee", "--field", "version") == (0, "ab" * 32 + "\n", "")
    rc, out, _ = run("chaincode", "show", "--id", "coffee")
    assert rc == 0 and '"channel_id": "ch"' in out
    rc, out, _ = run("chaincode", "define", "--id", "native", "--native-insecure", "--channel", "ch")
    assert rc == 0 and "NOT a TEE" in out
    native = hashlib.sha256(b"FOC native-insecure-v1: not a TEE, nothing measured").hexdigest()
    assert run("chaincode", "show", "--id", "native", "--field", "version")[1] == native + "\n"
    assert run("chaincode", "show", "--id", "nope")[0] == 3


def test_arguments_that_are_not_utf8_go_as_bytes_and_never_crash(fake: FakeProxyClient) -> None:
    """Issue 8, kind 2: `foc invoke --plaintext create $'\\xff\\xfe' 1` (argv decoded by Python with
    surrogateescape) used to end in "internal error: UnicodeEncodeError". The arguments now reach
    the chaincode as the shell's bytes; a chaincode that needs text refuses them with its own code."""
    rc, out, err = run("invoke", "--plaintext", "create", "\udcff\udcfe", "1")
    assert (rc, out) == (9, "") and err.startswith("foc: error: BAD_ARGUMENT: ") and "UTF-8" in err
    assert fake.calls[-1]["args"] == [b"\xff\xfe", b"1"]
    rc, _, err = run("invoke", "--plaintext", "\udcff", "x")  # the wrapper needs a text function name
    assert rc == 2 and "UTF-8" in err and "internal error" not in err
    rc, _, err = run("query", "--plaintext", "query", "caf\u00e9")  # valid non-ASCII text is fine
    assert rc == 9 and "NOT_FOUND" in err


@pytest.mark.parametrize(
    "argv",
    [
        ("invoke", "--chaincode", "co\udcffee", "create", "a"),
        ("query", "--gateway", "127.0.0.1:1", "--channel", "ch\udcff", "query", "a"),
        ("query", "--gateway", "127.0.0.1:1", "--mspid", "Org1\udcffMSP", "query", "a"),
        ("enclave", "list", "--chaincode", "\udcff"),
        ("chaincode", "show", "--id", "\udcffx"),
    ],
)
def test_name_options_that_are_not_utf8_are_a_usage_error(argv: tuple[str, ...]) -> None:
    """Issue 8, kind 2, everywhere: ids, channels and MSP ids from the shell that are not UTF-8 are
    exit 2 naming the option (they used to reach a protobuf or a ledger key: "internal error")."""
    rc, out, err = run(*argv)
    assert rc == 2 and out == "", err
    assert "is not valid UTF-8 text" in err and "\\xff" in err and "internal error" not in err


def test_the_cli_logs_library_warnings_escaped_one_line_each() -> None:
    """Issue 8, kind 6: the `foc` process's own log records (warnings of the libraries it runs) follow
    the escaping rule like foc-proxy's and foc serve's."""
    import subprocess
    import sys

    code = (
        "import io, logging; from foc.cli.main import main; "
        "main(['ledger', 'show', '--ledger', '/nonexistent/x'], out=io.StringIO(), err=io.StringIO()); "
        "logging.getLogger('foc.x').warning('key %s', 'k\\n2026 INFO verified\\x1b[2J')"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert lines == ["foc: WARNING: foc.x: key k\\n2026 INFO verified\\x1b[2J"]


def test_retry_runs_a_conflicting_transaction_again_up_to_n_times(
    fake: FakeProxyClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 8, kind 3: `--retry N` re-runs the whole transaction after an MVCC read conflict (exit 10
    without it), says so on stderr, and gives up after N more attempts."""
    from foc.errors import MvccConflict

    conflicts = {"left": 0}
    real_call = cli._call

    def flaky(contract, args, name):  # type: ignore[no-untyped-def]
        if conflicts["left"]:
            conflicts["left"] -= 1
            raise MvccConflict("a key it read changed before commit")
        return real_call(contract, args, name)

    monkeypatch.setattr(cli, "_call", flaky)
    conflicts["left"] = 2
    rc, out, err = run("invoke", "--plaintext", "--retry", "3", "create", "r1", "0")
    assert (rc, out) == (0, "OK\n"), err
    assert "running the transaction again (1/3)" in err and "(2/3)" in err and "(3/3)" not in err
    conflicts["left"] = 2
    rc, _, err = run("invoke", "--plaintext", "--retry", "1", "create", "r2", "0")
    assert rc == 10 and "(1/1)" in err and "changed before commit" in err
    conflicts["left"] = 1
    assert (
        run("invoke", "--plaintext", "create", "r3", "0")[0] == 10
    )  # no --retry: the conflict is the answer
    for bad in ("-1", "101", "x"):
        assert run("invoke", "--plaintext", "--retry", bad, "create", "r4", "0")[0] == 2


def test_the_demo_says_how_to_stop_the_guest_it_leaves_running(monkeypatch: pytest.MonkeyPatch) -> None:
    from foc.cli.main import still_running_hint

    monkeypatch.delenv("FOC_BOARD_HOST", raising=False)
    hint = still_running_hint("qemu", "default", given_proxy=False)
    assert hint is not None and "`foc-deploy qemu down` stops it" in hint
    assert "`foc-deploy rpi3 down --instance lab` stops it" in str(
        still_running_hint("rpi3", "lab", given_proxy=False)
    )
    assert still_running_hint("qemu", "default", given_proxy=True) is None  # --proxy: nothing started
    assert still_running_hint("native", "default", given_proxy=False) is None  # stopped with the demo
    monkeypatch.setenv("FOC_BOARD_HOST", "192.0.2.7")
    assert still_running_hint("rpi3", "default", given_proxy=False) is None  # a real board, not emulated
