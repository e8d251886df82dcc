/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A device attestation key as the normal world hands it to the TA (key distribution): DER
 * SubjectPublicKeyInfo { AlgorithmIdentifier { rsaEncryption, NULL }, BIT STRING { RSAPublicKey
 * { INTEGER n, INTEGER e } } } (RFC 5280, RFC 8017 A.1.1), parsed with mbedTLS's asn1parse.
 */
#include <string.h>

#include <mbedtls/asn1.h>

#include "../foc_p256.h"

#define SEQUENCE (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)

/* A non-negative INTEGER without its leading zero bytes. */
static bool integer(unsigned char **p, const unsigned char *end, const uint8_t **value, size_t *len)
{
	size_t n = 0;

	if (mbedtls_asn1_get_tag(p, end, &n, MBEDTLS_ASN1_INTEGER) != 0 || n == 0 || (**p & 0x80))
		return false;
	*value = *p;
	*p += n;
	while (n > 1 && **value == 0) {
		(*value)++;
		n--;
	}
	*len = n;
	return true;
}

bool foc_rsa_spki(const uint8_t *der, size_t len, const uint8_t **n, size_t *n_len, const uint8_t **e,
		  size_t *e_len)
{
	static const char rsa[] = "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"; /* rsaEncryption, 1.2.840.113549.1.1.1 */
	unsigned char *p = (unsigned char *)der;
	const unsigned char *end = der + len;
	mbedtls_asn1_buf alg;
	size_t l = 0;

	return mbedtls_asn1_get_tag(&p, end, &l, SEQUENCE) == 0 && p + l == end &&
	       mbedtls_asn1_get_alg_null(&p, end, &alg) == 0 && alg.len == sizeof(rsa) - 1 &&
	       memcmp(alg.p, rsa, alg.len) == 0 && mbedtls_asn1_get_bitstring_null(&p, end, &l) == 0 && p + l == end &&
	       mbedtls_asn1_get_tag(&p, end, &l, SEQUENCE) == 0 && p + l == end && integer(&p, end, n, n_len) &&
	       integer(&p, end, e, e_len) && p == end;
}
