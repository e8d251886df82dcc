"""Single- vs multi-instance coffee TA in ONE QEMU boot, alternating, without the proxy.

    .venv/bin/python bench/instances_ab.py SINGLE.ta MULTI.ta [--rounds 3] [--threads 1,2,4] [-k 12]

Boots a private QEMU instance (`multiinst-ab`) from the current image, stops the guest's foc-proxy (it
holds sessions), copies bench/ta_threads.py and the two builds of the coffee TA (same uuid; e.g. the
`share/ta/<uuid>.ta` of two image sets) into the guest, then per round and per build: installs that
build in /lib/optee_armtz, unloads the running instance (ta_threads.py --reload: FOC_CMD_PANIC) and runs
ta_threads.py (T threads on T sessions, confidential `create`s). Prints the guest's output and stops
the instance. docs/performance.md section 8.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foc.deploy import api  # noqa: E402
from foc.deploy.paths import cache_root  # noqa: E402
from foc.deploy.qemu import free_port  # noqa: E402

COFFEE = "6ceb95ba-e9b1-482a-a1bd-a1ebca0671b9"
INSTANCE = "multiinst-ab"
ENV = "PYTHONPATH=/opt/foc/src:/opt/foc/site"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("single", type=Path)
    p.add_argument("multi", type=Path)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", default="1,2,4")
    p.add_argument("-k", type=int, default=12)
    args = p.parse_args()
    api.up("qemu", port=free_port(), instance=INSTANCE)  # the image of this checkout (built if need be)
    image = api.booted_image("qemu", instance=INSTANCE)
    print(f"booted image {image.extra.get('image_key') if image else None}", flush=True)
    console = api.attach_console("qemu", instance=INSTANCE)
    try:
        console.run(
            "for p in $(grep -l 'foc[.]proxy' /proc/[0-9]*/cmdline | cut -d/ -f3); do kill $p; done; sleep 2"
        )
        # the files travel through this instance's 9p secure-storage share (console writes are slow)
        share = cache_root() / "run" / "qemu" / INSTANCE / "secure-storage"
        shutil.copy(Path(__file__).with_name("ta_threads.py"), share / "ta_threads.py")
        for name, path in (("single", args.single), ("multi", args.multi)):
            shutil.copy(path, share / f"{name}.ta")
        mnt = console.check("awk '$1==\"foc_state\"{print $2}' /proc/mounts").strip()
        console.check(f"cp {mnt}/ta_threads.py {mnt}/single.ta {mnt}/multi.ta /tmp/")
        for rnd in range(args.rounds):
            for name in ("single", "multi") if rnd % 2 == 0 else ("multi", "single"):
                console.check(f"cp /tmp/{name}.ta /lib/optee_armtz/{COFFEE}.ta")
                load = os.getloadavg()[0]
                cmd = f"python3 ta_threads.py --reload --rounds 1 --threads {args.threads} -k {args.k}"
                rc, out = console.run(f"cd /tmp && {ENV} {cmd}", timeout=900)
                print(f"=== round {rnd} {name} (host load {load:.1f}) rc={rc}\n{out}", flush=True)
    finally:
        console.close()
        api.down("qemu", instance=INSTANCE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
