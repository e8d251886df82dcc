# The mbedTLS library sources the TA's P-256 (ECDH, ECDSA, key generation, point checks) and its DER
# parsing (foc_rsa_key.c) need, by name under $(FOC_MBEDTLS_DIR)/library: one list for the TA (sub.mk)
# and the host-native build with `P256=mbedtls` (ta/native/Makefile).
FOC_MBEDTLS_LIBRARY := asn1parse asn1write bignum bignum_core constant_time ecdsa ecp ecp_curves platform_util
