"""Real OP-TEE under QEMU: the TEE devices, xtest, the attestation PTA, our TA from Python, the proxy."""

from __future__ import annotations

import pytest

from foc.deploy.qemu import proxy_health
from foc.deploy.xtest import parse_xtest
from foc.tee import abi

XTEST_SUBSET = ("regression_1001", "regression_1004", "regression_4001", "regression_6001", "pkcs11_1001")


def test_tee_devices_exist_and_supplicant_runs(guest) -> None:
    rc, out = guest.console.run("ls /dev/tee0 /dev/teepriv0")
    assert rc == 0, out
    assert out.split() == ["/dev/tee0", "/dev/teepriv0"]
    rc, out = guest.console.run("pidof tee-supplicant")
    assert rc == 0 and out.strip().isdigit(), out


def test_optee_driver_reports_its_revision(guest) -> None:
    rc, out = guest.console.run("dmesg | grep -i 'optee: revision'")
    assert rc == 0 and "revision" in out, out


def test_xtest_subset_passes(guest) -> None:
    rc, out = guest.console.run("xtest 1001 1004 4001 6001 pkcs11_1001", timeout=600)
    summary = parse_xtest(out)  # the exit status wraps; the summary is the truth
    assert summary.ok, f"xtest: {summary.describe()}\n" + "\n".join(out.splitlines()[-30:])
    missing = [case for case in XTEST_SUBSET if summary.results.get(case) != "OK"]
    assert not missing, f"cases not reported OK: {missing}"
    assert summary.cases >= len(XTEST_SUBSET)  # the filter matches by substring (1001)
    assert rc == 0


def test_attestation_pta_really_answers(guest) -> None:
    # Without the PTA, 1037 prints "skip test, pseudo TA not found" and still counts as OK.
    rc, out = guest.console.run("xtest 1037", timeout=600)
    assert "pseudo TA not found" not in out, "the attestation PTA is missing from OP-TEE"
    summary = parse_xtest(out)
    assert summary.ok and summary.results.get("regression_1037") == "OK", summary.describe()
    assert summary.subtests > 1, summary.describe()
    assert not summary.skip_notes, summary.skip_notes


def _ta_script() -> str:
    return "\n".join(
        [
            "from foc.tee import abi",
            "from foc.tee.libteec import LibteecBackend",
            "from foc.tee.invocation import run_invocation",
            "backend = LibteecBackend()",
            "session = backend.open_session()",
            "version, max_output = session.info()",
            "print('INFO', version, max_output)",
            "created = run_invocation(session, [b'create', b'alice', b'3'], lambda key: None)",
            "assert created.ok, created.error",
            "print('CREATE', created.status, created.payload.decode())",
            "state = {w.key: w.value for w in created.writes}",
            "print('WRITES', sorted(state))",
            "queried = run_invocation(session, [b'query', b'alice'], state.get)",
            "assert queried.ok, queried.error",
            "print('QUERY', queried.payload.decode(), queried.round_trips)",
            "again = run_invocation(session, [b'create', b'alice', b'1'], state.get)",
            "print('EXISTS', again.error.code if again.error else 'no error')",
            "session.close()",
            "backend.close()",
            "print('DONE')",
        ]
    )


def test_foc_ta_invoked_from_python_in_the_guest(guest) -> None:
    rc, out = guest.python(_ta_script())
    assert rc == 0 and "DONE" in out, out
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in out.splitlines() if " " in line}
    assert lines["INFO"].split() == [str(abi.FOC_ABI_VERSION), str(abi.FOC_MAX_OUTPUT)]
    assert lines["CREATE"].endswith("OK")
    assert "alice" in lines["WRITES"]
    assert "consumed coffees: 3" in lines["QUERY"]
    assert lines["EXISTS"] == "EXISTS"


def test_proxy_health_through_hostfwd(guest) -> None:
    if guest.running.ready != "proxy ready":
        pytest.fail(f"the proxy is not serving: the target came up as {guest.running.ready!r}")
    health = proxy_health(guest.proxy_address, timeout=10)
    assert health is not None and health.serving
    assert health.tee == "optee"
    assert health.ta_abi_version == abi.FOC_ABI_VERSION
