"""Pooled TA session vs OpenSession per transaction on real OP-TEE in QEMU, measured in one run.

    .venv/bin/python bench/optee_sessions.py [-n 40]

Boots (or builds and boots) a private QEMU instance, copies bench/proxy_native.py into the guest and
runs it there with `--tee optee`, then stops the instance. Prints the guest's statistics and ratio.
The FOC prototype opened a TEE context and session per transaction (a multi-instance TA, loaded
again each time: 64-81 ms under QEMU here); foc-proxy keeps a pool of sessions to a single-instance,
keep-alive TA, so this ratio shows what is left of that cost.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foc.deploy import api  # noqa: E402

BENCH = Path(__file__).with_name("proxy_native.py")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=40, help="measured transactions per mode")
    p.add_argument("--port", type=int, default=50097, help="host port for the instance's proxy")
    args = p.parse_args()
    running = api.up("qemu", port=args.port, instance="bench")
    try:
        console = api.attach_console("qemu", instance="bench")
        try:
            console.check("mkdir -p /tmp/bench/bench")
            console.write_file("/tmp/bench/bench/proxy_native.py", BENCH.read_bytes())
            rc, out = console.run(
                "ln -sfn /opt/foc/src/foc /tmp/bench/foc && cd /tmp/bench && "
                "PYTHONPATH=/opt/foc/src:/opt/foc/site "
                f"python3 bench/proxy_native.py --tee optee -n {args.n} --warmup 3",
                timeout=900,
            )
        finally:
            console.close()
    finally:
        api.down("qemu", instance="bench")
    print(f"QEMU instance booted in {running.timings.get('total_s', '?')} s")
    print(out)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
