srcs-y += foc_codec.c
srcs-y += foc_core.c
srcs-y += foc_enclave.c
