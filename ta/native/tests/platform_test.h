/* SPDX-License-Identifier: Apache-2.0 */
#ifndef FOC_PLATFORM_TEST_H
#define FOC_PLATFORM_TEST_H

/* Allocations that still succeed before every later one fails; -1 = never fail. */
extern long foc_test_fail_after;
/* Allocations not yet freed (leak check without a sanitizer). */
extern long foc_test_live_allocations;

#endif /* FOC_PLATFORM_TEST_H */
