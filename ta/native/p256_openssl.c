/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The P-256 operations of foc_crypto.h and foc_p256.h (key generation, ECDH, ECDSA) with OpenSSL
 * libcrypto: the host-native build's default (tests, fuzzing). `make P256=mbedtls` compiles the
 * TA's own mbedTLS build instead (ta/mbedtls/foc_p256.c), so that a normal-world build runs the
 * same P-256 code as the TA (foc bench's guest baseline). No primitive is implemented here.
 */
#include "foc_crypto.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "foc_p256.h"

/* An EVP_PKEY for P-256 from raw parts: priv may be NULL (public key only), pub may be NULL when
 * priv is given (ECDH needs only the scalar). */
static EVP_PKEY *ec_key(const uint8_t *priv, const uint8_t *pub)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *d = NULL;

	if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    (pub && !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, FOC_EC_POINT_SIZE)))
		goto out;
	if (priv) {
		d = BN_bin2bn(priv, FOC_EC_PRIVATE_SIZE, NULL);
		if (!d || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d))
			goto out;
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(d);
	return pkey;
}

bool foc_crypto_ec_generate(uint8_t priv[FOC_EC_PRIVATE_SIZE], uint8_t pub[FOC_EC_POINT_SIZE])
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	BIGNUM *d = NULL;
	size_t len = 0;
	bool ok;

	ok = pkey && EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1 &&
	     BN_bn2binpad(d, priv, FOC_EC_PRIVATE_SIZE) == FOC_EC_PRIVATE_SIZE &&
	     EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, pub, FOC_EC_POINT_SIZE, &len) == 1 &&
	     len == FOC_EC_POINT_SIZE && pub[0] == 0x04;
	BN_clear_free(d);
	EVP_PKEY_free(pkey);
	return ok;
}

bool foc_p256_ecdh(const uint8_t priv[32], const uint8_t peer[65], uint8_t secret[32])
{
	EVP_PKEY *own = ec_key(priv, NULL);
	EVP_PKEY *other = peer[0] == 0x04 ? ec_key(NULL, peer) : NULL;
	EVP_PKEY_CTX *ctx = own && other ? EVP_PKEY_CTX_new(own, NULL) : NULL;
	size_t secret_len = 32;
	bool ok;

	ok = ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, other) == 1 &&
	     EVP_PKEY_derive(ctx, secret, &secret_len) == 1 && secret_len == 32;
	if (!ok)
		foc_wipe(secret, 32);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(own);
	EVP_PKEY_free(other);
	return ok;
}

bool foc_crypto_ecdsa_sign(const uint8_t priv[FOC_EC_PRIVATE_SIZE], const uint8_t pub[FOC_EC_POINT_SIZE],
			   const uint8_t digest[FOC_HASH_SIZE], uint8_t sig[FOC_SIGNATURE_SIZE])
{
	EVP_PKEY *pkey = ec_key(priv, pub);
	EVP_PKEY_CTX *ctx = pkey ? EVP_PKEY_CTX_new(pkey, NULL) : NULL;
	unsigned char der[80];
	const unsigned char *p = der;
	size_t der_len = sizeof(der);
	ECDSA_SIG *s = NULL;
	bool ok;

	/* No digest set on the context: OpenSSL signs the 32 given bytes as the hash. */
	ok = ctx && EVP_PKEY_sign_init(ctx) == 1 && EVP_PKEY_sign(ctx, der, &der_len, digest, FOC_HASH_SIZE) == 1 &&
	     (s = d2i_ECDSA_SIG(NULL, &p, (long)der_len)) != NULL &&
	     BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, 32) == 32 && BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + 32, 32) == 32;
	ECDSA_SIG_free(s);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return ok;
}
