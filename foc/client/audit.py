"""Audit a dev ledger for plaintext of a confidential chaincode (what `foc demo` shows at its end).

`check_ciphertext_only` checks that every value of the chaincode's namespace, in the world state
and in every block, is an FCS1 stored value (AES-256-GCM ciphertext bound to its key), and that no
argument, result or error message of the given steps appears in the SQLite file or its WAL, raw
or hex-encoded (blocks store bytes as hex). Key names are cleartext by design, as in FPC.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from foc.confidential.formats import StoredValue
from foc.errors import FocError
from foc.ledger.ledger import DevLedger
from foc.registry.validation import RESERVED_PREFIX
from foc.text import shown_key


def check_ciphertext_only(
    ledger: DevLedger, namespace: str, probes: Mapping[str, bytes], out: TextIO
) -> bool:
    """Show the stored values (hex prefixes) and check that the ledger file holds no plaintext.

    Checks: every value of `namespace` in the world state and in every block is an FCS1 stored
    value (AES-256-GCM ciphertext bound to its key); no arguments, results or error messages of
    the scenario appear in the SQLite file or its WAL, neither raw nor hex-encoded (blocks store
    bytes as hex). Key names are cleartext by design, as in FPC.
    """
    problems: list[str] = []
    keys: set[str] = set()
    markers = 0
    print(f"\nwhat the ledger stores for {namespace} (world state):", file=out)
    for (ns, key), (value, _) in sorted(ledger.state_dump().items()):
        if ns != namespace:
            continue
        if key.startswith(RESERVED_PREFIX):
            markers += 1
            continue
        keys.add(key)
        try:
            StoredValue.decode(value)
            kind = "FCS1 stored value (AES-256-GCM)"
        except FocError:
            kind = "NOT a stored value"
            problems.append(f"the value of {shown_key(key)} is not ciphertext")
        print(f"  {shown_key(key)} = {value[:24].hex()}... ({len(value)} bytes, {kind})", file=out)
    print(
        f"  + {markers} request marker(s) {RESERVED_PREFIX}request/<request hash> (replay protection)",
        file=out,
    )
    writes = 0
    for block in ledger.blocks():
        for tx in block.transactions:
            for write in tx.rwset.writes:
                if (
                    write.namespace != namespace
                    or write.key.startswith(RESERVED_PREFIX)
                    or write.value is None
                ):
                    continue
                writes += 1
                try:
                    StoredValue.decode(write.value)
                except FocError:
                    problems.append(f"block {block.number} wrote plaintext to {shown_key(write.key)}")
    path = Path(ledger.path)
    data = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    for what, probe in probes.items():
        if probe in data or probe.hex().encode() in data:
            problems.append(f"the ledger file contains the {what}")
    print(
        f"checked: {len(keys)} value(s) in the world state and {writes} write(s) in the block log are "
        f"ciphertext; {len(probes)} plaintext probes (arguments, results, error messages; raw and hex) "
        f"absent from {path.name} and its WAL",
        file=out,
    )
    names = ", ".join(shown_key(k) for k in sorted(keys)) or "none"
    print(
        f"cleartext by design (as in FPC): key names ({names}), the "
        "enclave credentials in the registry (public), and which keys each transaction read and wrote",
        file=out,
    )
    for problem in problems:
        print(f"  LEAK: {problem}", file=out)
    print(f"ciphertext only: {'yes' if not problems else 'NO'}", file=out, flush=True)
    return not problems
