"""The demo's ciphertext-only check must catch plaintext: run FOC's plaintext scenario (fake proxy)
and check its namespace as if it were confidential."""

from __future__ import annotations

import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "wrapper"))

from fake_proxy import FakeProxyClient  # noqa: E402

from foc.cli.demo import check_ciphertext_only, run_scenario  # noqa: E402
from foc.ledger.ledger import DevLedger  # noqa: E402
from foc.ledger.peer import DevPeer  # noqa: E402
from foc.wrapper.plaintext import FocWrapper  # noqa: E402


def test_plaintext_ledger_fails_the_check_and_names_the_leaks(tmp_path: Path) -> None:
    with DevLedger(tmp_path / "plain.sqlite") as ledger:
        outcomes = run_scenario(DevPeer(ledger, {"foc": FocWrapper(client=FakeProxyClient())}), io.StringIO())
        out = io.StringIO()
        assert check_ciphertext_only(ledger, "foc", outcomes, out) is False
    text = out.getvalue()
    assert "LEAK: the value of alice is not ciphertext" in text
    assert "LEAK: block 1 wrote plaintext to alice" in text
    assert "ciphertext only: NO" in text
