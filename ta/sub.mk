global-incdirs-y += include
global-incdirs-y += core
global-incdirs-y += confidential
srcs-y += foc_ta.c
srcs-y += foc_commands.c
srcs-y += foc_crypto_optee.c
srcs-$(FOC_PROFILE_Y) += foc_profile.c
subdirs-y += core
subdirs-y += confidential
subdirs-y += chaincode
subdirs-y += mbedtls

# Test builds only (make -C ta ... FOC_TEST_COMMANDS=y), never a production TA: test/ adds
# test-only commands in front of foc_ta.c's entry point, which is renamed for that build only.
# The production build compiles neither (and scripts/ta-tcb counts srcs-y/subdirs-y only).
subdirs-$(FOC_TEST_COMMANDS) += test
cppflags-foc_ta.c-$(FOC_TEST_COMMANDS) += -DTA_InvokeCommandEntryPoint=foc_production_invoke_command
