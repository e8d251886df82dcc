"""Reading OP-TEE's `xtest` output: its exit status wraps (it is a failure count), so parse the text.

xtest ends with a summary such as

    +-----------------------------------------------------
    30259 subtests of which 2 failed
    133 test cases of which 1 failed
    0 test cases were skipped
    TEE test application done!

and prints `regression_4005 FAILED` / `regression_1001 OK` per case. A case can also "pass" while
skipping its body (`skip test, pseudo TA not found`, e.g. 1037 without the attestation PTA), so
the skip notes are collected for the caller to judge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from foc.errors import TargetError

_SUBTESTS = re.compile(r"^\s*(\d+) subtests? of which (\d+) failed", re.M)
_CASES = re.compile(r"^\s*(\d+) test cases? of which (\d+) failed", re.M)
_SKIPPED = re.compile(r"^\s*(\d+) test cases? (?:were|was) skipped", re.M)
_CASE_RESULT = re.compile(r"^\s*((?:regression|pkcs11|benchmark|gp)_[\w.]+) (OK|FAILED)\b", re.M)
_SKIP_NOTE = re.compile(r"^.*skip test.*$", re.M)
_DONE = "TEE test application done!"


@dataclass(frozen=True)
class XtestSummary:
    """The counts and per-case results of one xtest run."""

    subtests: int
    subtests_failed: int
    cases: int
    cases_failed: int
    skipped: int
    results: dict[str, str] = field(default_factory=dict)  # case or sub-case -> "OK" | "FAILED"
    skip_notes: tuple[str, ...] = ()
    done: bool = False

    @property
    def failed_cases(self) -> list[str]:
        return [name for name, result in self.results.items() if result == "FAILED"]

    @property
    def ok(self) -> bool:
        """True if xtest finished, ran something, and nothing failed."""
        return (
            self.done
            and self.cases > 0
            and self.cases_failed == 0
            and self.subtests_failed == 0
            and not self.failed_cases
        )

    def describe(self) -> str:
        text = (
            f"{self.cases} test cases of which {self.cases_failed} failed, "
            f"{self.subtests} subtests of which {self.subtests_failed} failed, {self.skipped} skipped"
        )
        if self.failed_cases:
            text += "; failed: " + ", ".join(self.failed_cases)
        return text


def parse_xtest(output: str) -> XtestSummary:
    """Parse xtest's output; raises TargetError if the summary is missing (xtest crashed or hung)."""
    text = output.replace("\r", "")
    subtests, cases = _SUBTESTS.findall(text), _CASES.findall(text)
    if not subtests or not cases:
        tail = "\n".join(text.splitlines()[-15:])
        raise TargetError(f"xtest printed no summary (crashed or was cut off); last output:\n{tail}")
    skipped = _SKIPPED.findall(text)
    results: dict[str, str] = {}
    for name, result in _CASE_RESULT.findall(text):
        if results.get(name) != "FAILED":  # a FAILED line wins over a later OK line
            results[name] = result
    return XtestSummary(
        subtests=int(subtests[-1][0]),
        subtests_failed=int(subtests[-1][1]),
        cases=int(cases[-1][0]),
        cases_failed=int(cases[-1][1]),
        skipped=int(skipped[-1]) if skipped else 0,
        results=results,
        skip_notes=tuple(m.group(0).strip() for m in _SKIP_NOTE.finditer(text)),
        done=_DONE in text,
    )
