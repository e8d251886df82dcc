/* SPDX-License-Identifier: Apache-2.0 */
/* Host-native platform of the trusted core's crypto interface (foc_crypto.h). NOT a TEE. */
#ifndef FOC_CRYPTO_NATIVE_H
#define FOC_CRYPTO_NATIVE_H

#include <foc_ta.h>

/* Directory of the native "sealed" objects: plain files, NOT secure storage. Each TA's objects
 * are in its own subdirectory, named by its uuid (as OP-TEE's storage is per TA). */
#define FOC_NATIVE_STORAGE_ENV "FOC_NATIVE_STORAGE"

/* PEM private key file of this simulated device's "attestation key" (default: the published one). */
#define FOC_NATIVE_DEVICE_KEY_ENV "FOC_NATIVE_DEVICE_KEY"
/* The uuid of the TA this build is (the Makefile's TA_UUID; FOC's coffee TA by default). */
#ifndef FOC_NATIVE_TA_UUID
#define FOC_NATIVE_TA_UUID FOC_TA_UUID_STR
#endif

/* Evidence kind of the native build, and what it "measures" (a fixed label, nothing real). */
#define FOC_NATIVE_EVIDENCE_KIND "native-insecure-v1"
#define FOC_NATIVE_MEASUREMENT_LABEL "FOC native-insecure-v1: not a TEE, nothing measured"

/* PEM of the published insecure test device key (insecure_device_key.c). */
extern const char foc_native_insecure_device_key_pem[];

#endif /* FOC_CRYPTO_NATIVE_H */
