"""Parsing xtest's summary (its exit status wraps, so the text is the truth)."""

from __future__ import annotations

import pytest

from foc.deploy.xtest import parse_xtest
from foc.errors import TargetError

PASSING = """\
Run test suite with level=0

TEE test application started over default TEE instance
######################################################
#
# regression+pkcs11+regression_vendor
#
######################################################

* regression_1001 Core self tests
  regression_1001 OK
* regression_1037 Remote attestation
 - 1037 -   skip test, pseudo TA not found
  regression_1037 OK
* pkcs11_1001 PKCS11: Initialize and finalize cryptoki library
  pkcs11_1001 OK
+-----------------------------------------------------
Result of testsuite regression+pkcs11+regression_vendor filtered by "1001 1037":
regression_1001 OK
regression_1037 OK
pkcs11_1001 OK
+-----------------------------------------------------
31 subtests of which 0 failed
3 test cases of which 0 failed
140 test cases were skipped
TEE test application done!
"""

FAILING = """\
regression_4005.7 FAILED first error at regression_4000.c:605
regression_4005 FAILED
+----------------------------------------
30259 subtests of which 2 failed
133 test cases of which 1 failed
0 test case was skipped
TEE test application done!
"""


def test_passing_summary() -> None:
    s = parse_xtest(PASSING)
    assert (s.subtests, s.subtests_failed, s.cases, s.cases_failed, s.skipped) == (31, 0, 3, 0, 140)
    assert s.ok and s.done
    assert s.results == {"regression_1001": "OK", "regression_1037": "OK", "pkcs11_1001": "OK"}
    # 1037 "passes" while skipping: the note is kept so the caller can refuse it.
    assert any("pseudo TA not found" in note for note in s.skip_notes)


def test_failing_summary() -> None:
    s = parse_xtest(FAILING)
    assert not s.ok
    assert s.cases_failed == 1 and s.subtests_failed == 2
    assert s.failed_cases == ["regression_4005.7", "regression_4005"]
    assert "regression_4005" in s.describe()


def test_exit_status_can_lie_but_the_counts_do_not() -> None:
    # 256 failed subtests wrap to exit status 0; the parser still sees them.
    s = parse_xtest(FAILING.replace("30259 subtests of which 2 failed", "30259 subtests of which 256 failed"))
    assert not s.ok and s.subtests_failed == 256


def test_cut_off_output_is_an_error() -> None:
    with pytest.raises(TargetError, match="no summary"):
        parse_xtest("* regression_1001 Core self tests\nSegmentation fault\n")


def test_not_done_is_not_ok() -> None:
    assert not parse_xtest(PASSING.replace("TEE test application done!", "")).ok


def test_zero_cases_is_not_ok() -> None:
    text = "0 subtests of which 0 failed\n0 test cases of which 0 failed\nTEE test application done!\n"
    assert not parse_xtest(text).ok
