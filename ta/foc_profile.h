/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Measurement build only (make -C ta FOC_PROFILE=1): per-phase time of each TA command,
 * accumulated around the platform crypto/storage calls and printed as one secure-world log
 * line per command ("foc-profile cmd=6 total=.. ecdh=.. ..."). Times come from
 * TEE_GetSystemTime (1 ms resolution: averages over many commands are what count). The line
 * carries durations and call counts only, never data. In a normal build every macro is empty.
 */
#ifndef FOC_PROFILE_H
#define FOC_PROFILE_H

#include <stdint.h>

enum foc_prof_phase {
	FOC_PROF_STORAGE,
	FOC_PROF_SHA256,
	FOC_PROF_POINT_CHECK,
	FOC_PROF_ECDH,
	FOC_PROF_HKDF,
	FOC_PROF_GCM_OPEN,
	FOC_PROF_GCM_SEAL,
	FOC_PROF_SIGN,
	FOC_PROF_RANDOM,
	FOC_PROF_KEYGEN,
	FOC_PROF_EVIDENCE,
	FOC_PROF_PHASES
};

#ifdef FOC_PROFILE
uint64_t foc_prof_now_ms(void);
void foc_prof_add(enum foc_prof_phase phase, uint64_t since_ms);
void foc_prof_report(uint32_t cmd, uint64_t since_ms);
/* FOC_CMD_PROFILE_CRYPTO: time `iterations` of each primitive, one log line each. */
#define FOC_CMD_PROFILE_CRYPTO 0x50524f46u
void foc_prof_crypto(uint32_t iterations);
#define FOC_PROF_START() uint64_t foc_prof_t0_ = foc_prof_now_ms()
#define FOC_PROF_STOP(phase) foc_prof_add(phase, foc_prof_t0_)
#else
#define FOC_PROF_START() const uint8_t foc_prof_t0_ __attribute__((unused)) = 0
#define FOC_PROF_STOP(phase) do { } while (0)
#endif

#endif /* FOC_PROFILE_H */
