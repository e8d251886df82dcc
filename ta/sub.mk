global-incdirs-y += include
global-incdirs-y += core
srcs-y += foc_ta.c
srcs-y += foc_crypto_optee.c
ifeq ($(FOC_PROFILE),1)
srcs-y += foc_profile.c
endif
subdirs-y += core
subdirs-y += chaincode
subdirs-y += mbedtls
