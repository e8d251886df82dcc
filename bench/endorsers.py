"""Throughput of one confidential chaincode endorsed by 1, 2 and 3 devices (issue 13).

    python bench/endorsers.py                      # host-native simulated devices (NOT a TEE)
    python bench/endorsers.py --duration 10 --devices 1 2 3

Each organisation's device is a host-native foc-proxy (`foc.deploy` native runtime, instance
``endorsers-bench-<i>``: its own sealed storage and simulated device key), started and stopped
here. For n devices the script defines the chaincode with all n, creates the keys on the first
device, joins the others by attested key transfer, registers every enclave, then measures, one
client, for --duration seconds each:

  invoke, all of n    transactions per second under OutOf(n, ...): each needs n enclaves' answers
  invoke, one of n    under OutOf(1, ...): one enclave per transaction, the next one each time
  query               queries per second (one enclave each, the next one each time)

Ratios are measured in one run; the absolute figures are the host-native core's on this machine
(no TEE), for comparing endorsement counts, not devices. One client is sequential, so more
devices add endorsement work but no parallelism: throughput that grows with devices needs several
clients on several hosts. Prints a table and, with --json, writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

if "PYTHONPATH" not in os.environ:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foc import connect  # noqa: E402
from foc.client.network import Organisation  # noqa: E402

CHAINCODE = "coffee"


def _rate(call, duration: float) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Calls per second of `call(i)` over `duration` seconds (at least one call)."""
    n, t0 = 0, time.monotonic()
    while True:
        call(n)
        n += 1
        elapsed = time.monotonic() - t0
        if elapsed >= duration:
            return n / elapsed, n


def measure(n: int, duration: float, root: Path) -> dict[str, float]:
    orgs = [f"Org{i + 1}" for i in range(n)]
    organisations = [
        Organisation(org, target="native", instance=f"endorsers-bench-{i + 1}") for i, org in enumerate(orgs)
    ]
    out: dict[str, float] = {"devices": n}
    with connect(
        ledger=root / f"dev-{n}.sqlite",
        home=root / f"home-{n}",
        organisations=organisations,
        allow_insecure_native=True,
    ) as net:
        names = ", ".join(f"'{o}'" for o in orgs)
        t0 = time.monotonic()
        net.set_up_enclaves(CHAINCODE, endorsement_policy=f"OutOf({n}, {names})", rekey=True)
        out["set_up_s"] = time.monotonic() - t0
        contract = net.contract(CHAINCODE)
        contract.invoke("create", ["p", "0"])
        out["invoke_all_tps"], _ = _rate(lambda i: contract.invoke("add", ["p", "1"]), duration)
        devices = {org.lower(): org for org in orgs}  # the same devices and keys, another policy
        net.define_chaincode(CHAINCODE, devices=devices, endorsement_policy=f"OutOf(1, {names})")
        out["invoke_one_tps"], _ = _rate(lambda i: contract.invoke("add", ["p", "1"]), duration)
        out["query_qps"], _ = _rate(lambda i: contract.query("query", ["p"]), duration)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 3], choices=range(1, 17))
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per figure")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="foc-endorsers-") as tmp:
        for n in args.devices:
            rows.append(measure(n, args.duration, Path(tmp)))
    base = rows[0]
    print(
        "devices  set-up s  invoke all-of-n tx/s  invoke one-of-n tx/s  query q/s  (ratio to the first row)"
    )
    for r in rows:
        print(
            f"{int(r['devices']):7d}  {r['set_up_s']:8.1f}  "
            f"{r['invoke_all_tps']:9.1f} ({r['invoke_all_tps'] / base['invoke_all_tps']:.2f})  "
            f"{r['invoke_one_tps']:9.1f} ({r['invoke_one_tps'] / base['invoke_one_tps']:.2f})  "
            f"{r['query_qps']:8.1f} ({r['query_qps'] / base['query_qps']:.2f})"
        )
    if args.json:
        args.json.write_text(json.dumps({"duration_s": args.duration, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
