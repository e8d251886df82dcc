/* SPDX-License-Identifier: Apache-2.0 */
/* TA properties, read by the dev kit's user_ta_header.c. */
#ifndef USER_TA_HEADER_DEFINES_H
#define USER_TA_HEADER_DEFINES_H

#include <foc_ta.h>

#define TA_UUID FOC_TA_UUID

/*
 * One instance serves every session (the proxy keeps a pool of persistent sessions)
 * and stays loaded between them, so OpenSession never reloads and re-verifies the TA.
 */
#define TA_FLAGS (TA_FLAG_SINGLE_INSTANCE | TA_FLAG_MULTI_SESSION | TA_FLAG_INSTANCE_KEEP_ALIVE)

#define TA_STACK_SIZE (16 * 1024)
#define TA_DATA_SIZE (2 * 1024 * 1024)

#define TA_VERSION "1.0"
#define TA_DESCRIPTION "FOC chaincode TA (coffee tracking)"

#endif /* USER_TA_HEADER_DEFINES_H */
