"""A confidential and a plaintext transaction driven straight into the TA through libteec (no proxy).

Runs in the QEMU guest (PYTHONPATH=/opt/foc/src:/opt/foc/site python3 ta_direct.py [N] [--reload] [--crypto]):
creates an enclave (force), then N confidential `create`s and `query`s and 3N plaintext `create`s, and
prints per-command latencies. --reload panics the running TA instance first, so a newly copied .ta (e.g. the
FOC_PROFILE=1 measurement build in /lib/optee_armtz) is loaded; --crypto runs the measurement build's crypto
micro-benchmark (FOC_CMD_PROFILE_CRYPTO; results in the secure-world log). docs/performance.md, section 1.
--native LIB drives the same commands into a normal-world build of the trusted core instead (NOT a TEE; e.g.
the guest's /opt/foc/native/libfoc_core.so, sealed objects in $FOC_NATIVE_STORAGE or a fresh temporary
directory): the TA and the guest-native build side by side, without the proxy (section 4).
"""
import os
import statistics
import sys
import tempfile
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
from foc.tee.libteec import TEEC_VALUE_INPUT, LibteecBackend, TEEC_Operation, param_types

N = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 10
RELOAD = "--reload" in sys.argv
CRYPTO = "--crypto" in sys.argv
NATIVE = sys.argv[sys.argv.index("--native") + 1] if "--native" in sys.argv else None

if NATIVE:
    from foc.tee.native import NativeBackend

    if RELOAD or CRYPTO:
        raise SystemExit("--reload and --crypto are for the TA only")
    os.environ.setdefault("FOC_NATIVE_STORAGE", tempfile.mkdtemp(prefix="foc-native-"))
    backend = NativeBackend(NATIVE)
else:
    backend = LibteecBackend()
if RELOAD:
    s = backend.open_session()
    try:
        s.invoke(abi.FOC_CMD_PANIC)
    except TeeError as e:
        print("panic:", e.code)
    s.close()
s = backend.open_session()
if CRYPTO:
    op = TEEC_Operation()
    op.paramTypes = param_types(TEEC_VALUE_INPUT)
    op.params[0].value.a = 5
    t0 = time.perf_counter()
    s._call(0x50524F46, op)
    print(f"crypto loop {1000*(time.perf_counter()-t0):.0f} ms")

t0 = time.perf_counter()
mt, out = s.invoke(abi.FOC_CMD_ENCLAVE_CREATE, EnclaveConfig("coffee", "1", "dev", "h", True).encode())
print(f"enclave create {1000*(time.perf_counter()-t0):.0f} ms type={mt}")
creds = Credentials.decode(out)
ccpub = creds.attested_data.chaincode_pub


def conf_request(args):
    eph = EC_P256.generate_private_key()
    ep = EC_P256.encode_point(eph)
    k = EC_P256.request_key(eph, ccpub, ephemeral_point=ep, chaincode_point=ccpub)
    pt = RequestPlaintext("dev", "coffee", tuple(args), b"r" * 32).encode()
    sealed = EC_P256.seal(k, pt, REQUEST_LABEL)
    return ConfidentialRequest(ep, sealed.nonce, sealed.ciphertext).encode()


def run(cmd, req, world):
    steps = []
    t0 = time.perf_counter()
    mt, out = s.invoke(cmd, req)
    steps.append(time.perf_counter() - t0)
    while mt == abi.FOC_MSG_GET_STATE:
        key = abi.decode_get_state(out)
        t1 = time.perf_counter()
        mt, out = s.invoke(abi.FOC_CMD_RESUME, abi.encode_state_answer(world.get(key)))
        steps.append(time.perf_counter() - t1)
    return mt, out, (time.perf_counter() - t0) * 1000, [x * 1000 for x in steps]


def stats(name, xs):
    med = statistics.median(xs)
    print(f"{name:28s} n={len(xs)} median {med:8.2f} ms  min {min(xs):8.2f}  max {max(xs):8.2f}")


world = {}
enc_ms, tot, first, resume = [], [], [], []
for i in range(N):
    t0 = time.perf_counter()
    req = conf_request([b"create", f"p{i}".encode(), b"5"])
    enc_ms.append((time.perf_counter() - t0) * 1000)
    req = abi.encode_confidential_invocation(req, None)  # FCI1, as the proxy sends it
    mt, out, ms, steps = run(abi.FOC_CMD_CONFIDENTIAL_INVOKE, req, world)
    assert mt == abi.FOC_MSG_CONFIDENTIAL_RESPONSE, (mt, out[:100])
    msg = ConfidentialResponse.decode(out).message()
    for w in msg.writes:
        world[w.key.encode()] = w.stored_value
    tot.append(ms)
    first.append(steps[0])
    resume.extend(steps[1:])
stats("client encrypt (python)", enc_ms)
stats("conf create total", tot)
stats("conf create INVOKE", first)
stats("conf create RESUME", resume)
tot = []
for i in range(N):
    req = conf_request([b"query", f"p{i}".encode()])
    req = abi.encode_confidential_invocation(req, None)  # FCI1, as the proxy sends it
    mt, out, ms, steps = run(abi.FOC_CMD_CONFIDENTIAL_INVOKE, req, world)
    assert mt == abi.FOC_MSG_CONFIDENTIAL_RESPONSE
    tot.append(ms)
stats("conf query total", tot)
pworld = {}
tot, first, resume = [], [], []
for i in range(N * 3):
    request = abi.encode_request([b"create", f"q{i}".encode(), b"5"])
    mt, out, ms, steps = run(abi.FOC_CMD_INVOKE, request, pworld)
    assert mt == abi.FOC_MSG_RESPONSE
    tot.append(ms)
    first.append(steps[0])
    resume.extend(steps[1:])
stats("plain create total", tot)
stats("plain INVOKE", first)
stats("plain RESUME", resume)
lat = []
for _ in range(30):
    t0 = time.perf_counter()
    s.info()
    lat.append((time.perf_counter() - t0) * 1000)
stats("FOC_CMD_INFO (value only)", lat)
s.close()
backend.close()
