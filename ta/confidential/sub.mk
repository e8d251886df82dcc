srcs-y += foc_confidential.c
srcs-y += foc_enclave.c
srcs-y += foc_keydist.c
