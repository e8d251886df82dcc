# The TA's P-256: foc_p256.c on mbedTLS's own sources, configured by foc_mbedtls_config.h, every
# external symbol renamed by foc_mbedtls_rename.h. FOC_MBEDTLS_DIR is lib/libmbedtls/mbedtls of the
# OP-TEE OS source tree (foc-deploy exports it beside the dev kit); only what P-256 ECDH/ECDSA needs.
cppflags-y += -DMBEDTLS_CONFIG_FILE='"foc_mbedtls_config.h"' -include $(sub-dir)/foc_mbedtls_rename.h
incdirs-y += .
srcs-y += foc_p256.c
srcs-y += foc_rsa_key.c
include $(sub-dir)/library.mk
srcs-y += $(patsubst %,$(FOC_MBEDTLS_DIR)/library/%.c,$(FOC_MBEDTLS_LIBRARY))
