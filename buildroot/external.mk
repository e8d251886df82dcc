# FOC br2-external tree: packages and board files that put FOC (the chaincode
# TA and foc-proxy) into a Buildroot-based OP-TEE image.
#
# The packages build from the FOC repository this tree lives in (ta/ and foc/),
# so use the tree from a FOC checkout: BR2_EXTERNAL=<foc checkout>/buildroot.

# The Buildroot release this tree is checked against (docs/buildroot.md).
FOC_BUILDROOT_RELEASE = 2026.02.3

# The FOC source tree (the parent of this br2-external tree) and its version,
# read from pyproject.toml so the packages and the Python metadata agree.
FOC_REPO_DIR := $(realpath $(BR2_EXTERNAL_FOC_PATH)/..)
FOC_REPO_VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' $(FOC_REPO_DIR)/pyproject.toml)

ifeq ($(BR_BUILDING),y)
ifneq ($(words $(wildcard $(FOC_REPO_DIR)/ta/Makefile $(FOC_REPO_DIR)/pyproject.toml)),2)
$(error FOC br2-external: $(BR2_EXTERNAL_FOC_PATH) is not inside a FOC checkout (needs ../ta/Makefile and ../pyproject.toml); use the buildroot/ directory of a FOC repository)
endif
ifneq ($(BR2_VERSION),$(FOC_BUILDROOT_RELEASE))
$(warning FOC br2-external is checked against Buildroot $(FOC_BUILDROOT_RELEASE); this is Buildroot $(BR2_VERSION))
endif
endif

include $(sort $(wildcard $(BR2_EXTERNAL_FOC_PATH)/package/*/*.mk))
