srcs-y += foc_codec.c
srcs-y += foc_session.c
srcs-y += foc_stub.c
srcs-y += foc_plaintext.c
