global-incdirs-y += include
global-incdirs-y += core
global-incdirs-y += confidential
srcs-y += foc_ta.c
srcs-y += foc_commands.c
srcs-y += foc_crypto_optee.c
srcs-$(FOC_PROFILE_Y) += foc_profile.c
subdirs-y += core
subdirs-y += confidential
subdirs-y += mbedtls
# The TA's chaincode: FOC's coffee (chaincode/), or a chaincode project's own sources, named by
# ta/chaincode.mk (FOC_CHAINCODE_DIR, FOC_CHAINCODE_SRCS relative to it; its headers beside them).
ifeq ($(FOC_CHAINCODE_DIR),)
subdirs-y += chaincode
else
global-incdirs_ext-y += $(FOC_CHAINCODE_DIR)
srcs-y += $(addprefix $(FOC_CHAINCODE_DIR)/,$(FOC_CHAINCODE_SRCS))
endif

# Test builds only (make -C ta ... FOC_TEST_COMMANDS=y), never a production TA: test/ adds
# test-only commands in front of foc_ta.c's entry point, which is renamed for that build only.
# The production build compiles neither (and scripts/ta-tcb counts srcs-y/subdirs-y only).
subdirs-$(FOC_TEST_COMMANDS) += test
cppflags-foc_ta.c-$(FOC_TEST_COMMANDS) += -DTA_InvokeCommandEntryPoint=foc_production_invoke_command
