/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The coffee chaincode, renamed so the test program can link it next to the scripted
 * test chaincode (chaincode_test.c), which delegates create/add/query to it.
 */
#define foc_chaincode foc_coffee_chaincode
#include "../../chaincode/coffee.c"
