/* SPDX-License-Identifier: Apache-2.0 */
/* The synthetic benchmark function of the coffee TA (bench.c). */
#ifndef FOC_BENCH_H
#define FOC_BENCH_H

#include <foc_chaincode.h>

foc_status foc_bench_rw(struct foc_stub *stub);

#endif /* FOC_BENCH_H */
