"""The normal world's view of the FOC TA.

``abi`` mirrors ta/include/foc_ta.h (numbers + strict codec); ``api`` defines the
TeeBackend/TeeSession protocols; ``invocation`` runs one transaction on one session;
``libteec`` is the real backend (GP TEE Client API on OP-TEE, via ctypes) and ``native`` the
host-native build of the trusted core (not a TEE, for tests).
"""
