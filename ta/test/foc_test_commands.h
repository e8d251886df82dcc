/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TEST-ONLY commands of the FOC TA. They exist only in a TA built with FOC_TEST_COMMANDS=y
 * (make -C ta ... FOC_TEST_COMMANDS=y), never in a production TA: the production build does
 * not compile this directory, and its command table answers these ids with
 * TEE_ERROR_NOT_SUPPORTED like any unknown command (the qemu and native tiers check it).
 *
 * FOC_CMD_TEST_SEALED_OBJECTS  params[0] NONE, [1] VALUE_OUTPUT (a = FOC_MSG_RESPONSE, b = size),
 *     [2] MEMREF_OUTPUT: bytes foc.enclave.v1 || bytes foc.chaincode.v1, the sealed objects
 *     exactly as the TA reads them from secure storage. The key-material leak scan of the qemu
 *     tier (tests/leakscan.py) looks for the keys in them everywhere outside the TA.
 */
#ifndef FOC_TEST_COMMANDS_H
#define FOC_TEST_COMMANDS_H

#define FOC_CMD_TEST_SEALED_OBJECTS 0x7e57u

#endif /* FOC_TEST_COMMANDS_H */
