# The TA's P-256: foc_p256.c on mbedTLS's own sources, configured by foc_mbedtls_config.h, every
# external symbol renamed by foc_mbedtls_rename.h. FOC_MBEDTLS_DIR is lib/libmbedtls/mbedtls of the
# OP-TEE OS source tree (foc-deploy exports it beside the dev kit); only what P-256 ECDH/ECDSA needs.
cppflags-y += -DMBEDTLS_CONFIG_FILE='"foc_mbedtls_config.h"' -include $(sub-dir)/foc_mbedtls_rename.h
incdirs-y += .
srcs-y += foc_p256.c
srcs-y += foc_rsa_key.c
srcs-y += $(FOC_MBEDTLS_DIR)/library/asn1parse.c
srcs-y += $(FOC_MBEDTLS_DIR)/library/asn1write.c
srcs-y += $(FOC_MBEDTLS_DIR)/library/bignum.c
srcs-y += $(FOC_MBEDTLS_DIR)/library/bignum_core.c
srcs-y += $(FOC_MBEDTLS_DIR)/library/constant_time.c
srcs-y += $(FOC_MBEDTLS_DIR)/library/ecdsa.c
srcs-y += $(FOC_MBEDTLS_DIR)/library/ecp.c
srcs-y += $(FOC_MBEDTLS_DIR)/library/ecp_curves.c
srcs-y += $(FOC_MBEDTLS_DIR)/library/platform_util.c
