/* SPDX-License-Identifier: Apache-2.0 */
/* TA properties, read by the dev kit's user_ta_header.c. */
#ifndef USER_TA_HEADER_DEFINES_H
#define USER_TA_HEADER_DEFINES_H

#include <foc_ta.h>

/* The build names the TA (ta/Makefile: BINARY, FOC_CHAINCODE_NAME); FOC's coffee TA otherwise. */
#ifdef FOC_CHAINCODE_TA_UUID
#define TA_UUID FOC_CHAINCODE_TA_UUID
#else
#define TA_UUID FOC_TA_UUID
#endif
#ifndef FOC_CHAINCODE_NAME
#define FOC_CHAINCODE_NAME "coffee"
#endif

/*
 * One instance serves every session (the proxy keeps a pool of persistent sessions)
 * and stays loaded between them, so OpenSession never reloads and re-verifies the TA.
 */
#define TA_FLAGS (TA_FLAG_SINGLE_INSTANCE | TA_FLAG_MULTI_SESSION | TA_FLAG_INSTANCE_KEEP_ALIVE)

#define TA_STACK_SIZE (16 * 1024)
#define TA_DATA_SIZE (2 * 1024 * 1024)

#define TA_VERSION "1.0"
#define TA_DESCRIPTION "FOC chaincode TA: " FOC_CHAINCODE_NAME

#endif /* USER_TA_HEADER_DEFINES_H */
