"""`foc bench --devices 1,2,3`: one confidential chaincode endorsed by 1, 2, 3 ... devices (issue 13).

Each organisation's device is a host-native foc-proxy (`foc.deploy.native.simulated_device`: its own
sealed-object directory and simulated device key, in a temporary directory; NOT a TEE), started and
stopped here. For n devices: define the chaincode with all n, create the keys on the first device,
join the others by attested key transfer, register every enclave (`Network.set_up_enclaves`), then
measure one sequential client for `duration_s` seconds per figure:

* ``invoke_all_tps``: transactions per second under OutOf(n, ...): each needs all n enclaves' answers;
* ``invoke_one_tps``: under OutOf(1, ...) (the same devices and keys): one enclave per transaction,
  the next one each time;
* ``query_qps``: queries per second, one enclave each, the next one each time.

One client is sequential, so more devices add endorsement work and no parallelism; the figures
compare endorsement counts on the host-native core (docs/performance.md, section 7), not devices.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

CHAINCODE = "coffee"


@dataclass(frozen=True)
class EndorsersRow:
    """The figures for one device count (rates per second, set-up in seconds)."""

    devices: int
    set_up_s: float
    invoke_all_tps: float
    invoke_one_tps: float
    query_qps: float


def _rate(call: Callable[[], object], duration_s: float) -> float:
    """Calls per second of `call` over `duration_s` seconds (at least one call)."""
    n, t0 = 0, time.monotonic()
    while True:
        call()
        n += 1
        elapsed = time.monotonic() - t0
        if elapsed >= duration_s:
            return n / elapsed


def measure(n: int, duration_s: float, workdir: Path, progress: Callable[[str], None]) -> EndorsersRow:
    """Set up and measure one chaincode on `n` simulated devices (see the module docstring)."""
    from foc.client.network import Organisation, connect
    from foc.deploy.native import LocalProxy, simulated_device

    orgs = [f"Org{i + 1}" for i in range(n)]
    names = ", ".join(f"'{o}'" for o in orgs)
    proxies: list[LocalProxy] = []
    try:
        for org in orgs:
            proxies.append(simulated_device(workdir / f"{n}-{org}").start())
        members = [Organisation(o, proxy=p.address) for o, p in zip(orgs, proxies, strict=True)]
        with connect(
            ledger=workdir / f"dev-{n}.sqlite",
            home=workdir / f"home-{n}",
            organisations=members,
            allow_insecure_native=True,
        ) as net:
            t0 = time.monotonic()
            net.set_up_enclaves(CHAINCODE, endorsement_policy=f"OutOf({n}, {names})", rekey=True)
            set_up = time.monotonic() - t0
            progress(f"{n} device(s): keys created on Org1, joined by {n - 1} other(s), all registered")
            contract = net.contract(CHAINCODE)
            contract.invoke("create", ["p", "0"])
            all_tps = _rate(lambda: contract.invoke("add", ["p", "1"]), duration_s)
            devices = {o.lower(): o for o in orgs}  # the same devices and keys, another policy
            net.define_chaincode(CHAINCODE, devices=devices, endorsement_policy=f"OutOf(1, {names})")
            one_tps = _rate(lambda: contract.invoke("add", ["p", "1"]), duration_s)
            qps = _rate(lambda: contract.query("query", ["p"]), duration_s)
    finally:
        for proxy in proxies:
            proxy.stop()
    return EndorsersRow(n, set_up, all_tps, one_tps, qps)


def run_endorsers(
    counts: Sequence[int], duration_s: float, progress: Callable[[str], None] | None = None
) -> list[EndorsersRow]:
    """One row per device count, in one run (compare ratios within it: the machine is shared).
    UsageError for a count outside 1..16 (FOC_MAX_TRUSTED_DEVICES)."""
    from foc.errors import UsageError

    if not counts or any(not 1 <= n <= 16 for n in counts):
        raise UsageError("--devices takes device counts from 1 to 16, e.g. 1,2,3")
    say = progress or (lambda _msg: None)
    with tempfile.TemporaryDirectory(prefix="foc-bench-endorsers-") as tmp:
        return [measure(n, duration_s, Path(tmp), say) for n in counts]


def table(rows: Sequence[EndorsersRow]) -> str:
    """A plain-text table, each rate with its ratio to the first row."""
    base = rows[0]
    lines = ["devices  set-up s  invoke all-of-n tx/s  invoke one-of-n tx/s  query q/s   (ratio to row 1)"]
    for r in rows:
        lines.append(
            f"{r.devices:7d}  {r.set_up_s:8.1f}  "
            f"{r.invoke_all_tps:9.1f} ({r.invoke_all_tps / base.invoke_all_tps:.2f})  "
            f"{r.invoke_one_tps:9.1f} ({r.invoke_one_tps / base.invoke_one_tps:.2f})  "
            f"{r.query_qps:8.1f} ({r.query_qps / base.query_qps:.2f})"
        )
    return "\n".join(lines)


def to_json(rows: Sequence[EndorsersRow], duration_s: float) -> dict[str, object]:
    """What `foc bench --devices` writes to endorsers.json."""
    return {"system": "host-native (NOT a TEE)", "duration_s": duration_s, "rows": [asdict(r) for r in rows]}
