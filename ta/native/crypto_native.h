/* SPDX-License-Identifier: Apache-2.0 */
/* Host-native platform of the trusted core's crypto interface (foc_crypto.h). NOT a TEE. */
#ifndef FOC_CRYPTO_NATIVE_H
#define FOC_CRYPTO_NATIVE_H

/* Directory of the native "sealed" objects: plain files, NOT secure storage. */
#define FOC_NATIVE_STORAGE_ENV "FOC_NATIVE_STORAGE"

/* PEM private key file of this simulated device's "attestation key" (default: the published one). */
#define FOC_NATIVE_DEVICE_KEY_ENV "FOC_NATIVE_DEVICE_KEY"

/* Evidence kind of the native build, and what it "measures" (a fixed label, nothing real). */
#define FOC_NATIVE_EVIDENCE_KIND "native-insecure-v1"
#define FOC_NATIVE_MEASUREMENT_LABEL "FOC native-insecure-v1: not a TEE, nothing measured"

/* PEM of the published insecure test device key (insecure_device_key.c). */
extern const char foc_native_insecure_device_key_pem[];

#endif /* FOC_CRYPTO_NATIVE_H */
