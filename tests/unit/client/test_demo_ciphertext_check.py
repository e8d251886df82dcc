"""The demo's ciphertext-only check must catch plaintext: run FOC's plaintext scenario (fake proxy)
and check its namespace as if it were confidential."""

from __future__ import annotations

import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "wrapper"))

from fake_proxy import FakeProxyClient  # noqa: E402

from foc import connect  # noqa: E402
from foc.client.audit import check_ciphertext_only  # noqa: E402
from foc.demo import plaintext_probes, run_plaintext_demo  # noqa: E402


def test_plaintext_ledger_fails_the_check_and_names_the_leaks(tmp_path: Path) -> None:
    with connect(ledger=tmp_path / "plain.sqlite", proxy=FakeProxyClient(), home=tmp_path / "home") as net:
        outcomes = run_plaintext_demo(net, io.StringIO())
        assert all(o.ok for o in outcomes)
        out = io.StringIO()
        assert check_ciphertext_only(net.ledger, "foc", plaintext_probes(outcomes), out) is False
    text = out.getvalue()
    assert "LEAK: the value of alice is not ciphertext" in text
    assert "LEAK: block 1 wrote plaintext to alice" in text
    assert "ciphertext only: NO" in text
