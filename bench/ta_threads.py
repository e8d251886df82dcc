"""Confidential `create`s from T threads, each on its own TA session, straight through libteec (no proxy).

Runs in the QEMU guest (PYTHONPATH=/opt/foc/src:/opt/foc/site python3 ta_threads.py [--threads 1,2,4]
[-k 16] [--reload]): opens max(T) sessions, creates an enclave (force) on the first, warms every session
(a multi-instance TA loads its sealed objects and builds its P-256 table per instance), then for each T
runs T threads of k transactions each and prints the throughput. The requests are encrypted before the
clock starts, so the figure is the TA's (and OP-TEE's) concurrency, not the Python client's.
--reload panics the running TA instance first, so a newly copied .ta in /lib/optee_armtz is loaded.
Used for the single- vs multi-instance comparison in docs/performance.md (section 8).
"""

import argparse
import threading
import time

from foc.confidential.formats import (
    ConfidentialRequest,
    ConfidentialResponse,
    Credentials,
    EnclaveConfig,
    RequestPlaintext,
)
from foc.confidential.suite import EC_P256, REQUEST_LABEL
from foc.errors import TeeError
from foc.tee import abi
from foc.tee.libteec import LibteecBackend

p = argparse.ArgumentParser()
p.add_argument("--threads", default="1,2,4")
p.add_argument("-k", type=int, default=16, help="transactions per thread per cell")
p.add_argument("--rounds", type=int, default=2)
p.add_argument("--reload", action="store_true")
args = p.parse_args()
counts = [int(t) for t in args.threads.split(",")]

backend = LibteecBackend()
if args.reload:
    s = backend.open_session()
    try:
        s.invoke(abi.FOC_CMD_PANIC)
    except TeeError as e:
        print("panic:", e.code)
    s.close()
t0 = time.perf_counter()
sessions = [backend.open_session() for _ in range(max(counts))]
print(f"opened {len(sessions)} sessions in {1000 * (time.perf_counter() - t0):.0f} ms")
mt, out = sessions[0].invoke(
    abi.FOC_CMD_ENCLAVE_CREATE, EnclaveConfig("coffee", "1", "dev", "h", True).encode()
)
assert mt == abi.FOC_MSG_RESPONSE, (mt, out[:100])
ccpub = Credentials.decode(out).attested_data.chaincode_pub


def request(person):
    eph = EC_P256.generate_private_key()
    ep = EC_P256.encode_point(eph)
    k = EC_P256.request_key(eph, ccpub, ephemeral_point=ep, chaincode_point=ccpub)
    pt = RequestPlaintext("dev", "coffee", (b"create", person.encode(), b"5"), b"r" * 32).encode()
    sealed = EC_P256.seal(k, pt, REQUEST_LABEL)
    return abi.encode_confidential_invocation(
        ConfidentialRequest(ep, sealed.nonce, sealed.ciphertext).encode(), None
    )


def transact(s, req):
    mt, out = s.invoke(abi.FOC_CMD_CONFIDENTIAL_INVOKE, req)
    while mt == abi.FOC_MSG_GET_STATE:
        mt, out = s.invoke(abi.FOC_CMD_RESUME, abi.encode_state_answer(None))
    assert mt == abi.FOC_MSG_CONFIDENTIAL_RESPONSE, (mt, out[:100])
    ConfidentialResponse.decode(out)


for i, s in enumerate(sessions):  # warm every session (instance): sealed objects, P-256 table
    t0 = time.perf_counter()
    transact(s, request(f"warm{i}"))
    print(f"warm session {i}: {1000 * (time.perf_counter() - t0):.0f} ms")

for rnd in range(args.rounds):
    for t in counts:
        reqs = [[request(f"r{rnd}t{t}x{j}n{n}") for n in range(args.k)] for j in range(t)]
        errors = []

        def worker(j, reqs=reqs, errors=errors):
            try:
                for r in reqs[j]:
                    transact(sessions[j], r)
            except Exception as exc:  # reported below
                errors.append(repr(exc))

        threads = [threading.Thread(target=worker, args=(j,)) for j in range(t)]
        t0 = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - t0
        n = t * args.k
        rate = n / elapsed
        print(f"round {rnd} threads {t}: {n} tx in {elapsed:.2f} s = {rate:.1f} tx/s errors {len(errors)}")
        for message in errors[:2]:
            print("  error:", message)
for s in sessions:
    s.close()
backend.close()
