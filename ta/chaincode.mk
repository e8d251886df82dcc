# Build rules of a FOC chaincode project: its TA for OP-TEE, and its host-native library for tests.
#
# A project's Makefile (`foc chaincode new` writes one) sets these, then includes this file:
#   CHAINCODE_NAME   the chaincode's name (as in its `struct foc_chaincode`)
#   CHAINCODE_UUID   its TA's uuid: the TA is <uuid>.ta and OP-TEE loads it by that uuid
#   CHAINCODE_SRCS   its C sources, relative to the project directory (its headers sit beside them)
#   FOC_TA_DIR       FOC's ta/ directory: the trusted core every chaincode TA links
#
#   make ta       TA_DEV_KIT_DIR=<OP-TEE's export-ta_arm64> FOC_MBEDTLS_DIR=<the mbedTLS of the same
#                 OP-TEE source> [CROSS_COMPILE=aarch64-linux-gnu-] [PYTHON3=python3]
#                 -> $(O)/<uuid>.ta, signed with the dev kit's key (ta/Makefile does the work)
#   make native   -> $(O)/native/libfoc_core.so: the same C built for this host (NOT a TEE), what the
#                 project's tests and `foc-proxy --tee native --native-lib` load (ta/native/Makefile)
#   make clean
# Both also write $(O)/chaincode.json: {name, ta_uuid, ta, native_lib} (paths relative to $(O)).
# `foc chaincode build DIR` runs `make ta native` with the dev kit of the last image build.

PROJECT_DIR := $(abspath $(dir $(firstword $(MAKEFILE_LIST))))
O ?= $(PROJECT_DIR)/build
override O := $(abspath $(O))
CROSS_COMPILE ?= aarch64-linux-gnu-
PYTHON3 ?= python3

ifeq ($(wildcard $(FOC_TA_DIR)/chaincode.mk),)
$(error FOC_TA_DIR=$(FOC_TA_DIR) is not FOC's ta/ directory (no chaincode.mk))
endif
ifeq ($(strip $(CHAINCODE_NAME)),)
$(error CHAINCODE_NAME is not set)
endif
ifeq ($(strip $(CHAINCODE_SRCS)),)
$(error CHAINCODE_SRCS is not set)
endif
override FOC_TA_DIR := $(abspath $(FOC_TA_DIR))

# Sub-makes get exactly the variables passed below, never the caller's command line (its O=...).
MAKEOVERRIDES :=

.PHONY: all ta native clean
all: ta native

ta: $(O)/chaincode.json
	$(MAKE) -C $(FOC_TA_DIR) O=$(O)/ta-build BINARY=$(CHAINCODE_UUID) FOC_CHAINCODE_NAME=$(CHAINCODE_NAME) \
		FOC_CHAINCODE_DIR=$(PROJECT_DIR) FOC_CHAINCODE_SRCS="$(CHAINCODE_SRCS)" CROSS_COMPILE=$(CROSS_COMPILE) \
		PYTHON3=$(PYTHON3) TA_DEV_KIT_DIR=$(TA_DEV_KIT_DIR) FOC_MBEDTLS_DIR=$(FOC_MBEDTLS_DIR)
	cp $(O)/ta-build/$(CHAINCODE_UUID).ta $(O)/$(CHAINCODE_UUID).ta

native: $(O)/chaincode.json
	$(MAKE) -C $(FOC_TA_DIR)/native lib O=$(O)/native CHAINCODE_DIR=$(PROJECT_DIR) \
		CHAINCODE_SRCS="$(CHAINCODE_SRCS)" TA_UUID=$(CHAINCODE_UUID)

$(O)/chaincode.json: $(firstword $(MAKEFILE_LIST))
	@mkdir -p $(O)
	printf '{"name": "%s", "ta_uuid": "%s", "ta": "%s.ta", "native_lib": "native/libfoc_core.so"}\n' \
		'$(CHAINCODE_NAME)' '$(CHAINCODE_UUID)' '$(CHAINCODE_UUID)' > $@

clean:
	rm -rf $(O)
