# TEST-ONLY (FOC_TEST_COMMANDS=y): never part of a production TA; see foc_test_commands.h.
srcs-y += foc_test_commands.c
