global-incdirs-y += include
global-incdirs-y += core
srcs-y += foc_ta.c
srcs-y += foc_crypto_optee.c
subdirs-y += core
subdirs-y += chaincode
