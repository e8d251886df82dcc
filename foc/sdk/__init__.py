"""The chaincode SDK: write your own confidential chaincode in C and build it into its own TA.

* `foc.sdk.project`: `new_project` (what `foc chaincode new NAME` writes: source, Makefile on OP-TEE's TA
  dev kit and FOC's trusted core, a fresh TA uuid, README, a host-native test) and `build_project`
  (`foc chaincode build DIR`: the signed `.ta` and the host-native library for the tests);
* `foc.sdk.host`: `HostChaincode`, a chaincode's host-native build run in this process on a dict ledger,
  for a project's tests (NOT a TEE: the same C as the TA, no OP-TEE).

The chaincode API itself is C: `ta/include/foc_chaincode.h` (docs/chaincode.md walks through it).
"""
