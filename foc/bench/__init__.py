"""`foc bench`: the same workload on the TA in OP-TEE and on the same trusted core outside a TEE.

Systems (each behind its own foc-proxy, driven through the real product path: Python SDK ->
embedded dev ledger -> wrapper -> gRPC -> proxy -> trusted core):

  optee         the TA in OP-TEE under QEMU (proxy in the guest, libteec)
  guest-native  the same trusted core + chaincode built for the guest's normal world
                (/opt/foc/native/libfoc_core.so), run by the same proxy in the same guest: the fair
                baseline, as FOC's "chaincode in the normal world" (NOT a TEE)
  host-native   the host build of the trusted core, proxy on the host (context only, NOT a TEE)

Modes: plaintext (FOC's wrapper path) and confidential (ConfidentialContract: encrypted request,
signed and encrypted response, validation before commit). Workloads: FOC's coffee chaincode
(create / add / query) at 1, 2, 4, 8 clients, and `bench_rw` (N distinct reads, M writes, value
size) at one client. Per cell: throughput, latency percentiles, TEEC_InvokeCommand calls per
transaction, TEEC_OpenSession calls during the cell, bytes over the proxy link.

Modules: `model` (cells, results, JSON), `workloads`, `runner` (clients, warm-up, fixed duration),
`relay` (byte counting), `systems` (bringing each system up), `report` (table, plot, FOC's figures).
Measurements are ratios within one run; nothing here asserts a time.
"""
