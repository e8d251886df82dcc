################################################################################
#
# foc-ta
#
################################################################################

# Built from ta/ of the FOC checkout this br2-external tree lives in
# (FOC_REPO_DIR and FOC_REPO_VERSION come from external.mk).
FOC_TA_VERSION = $(FOC_REPO_VERSION)
FOC_TA_SITE = $(FOC_REPO_DIR)/ta
FOC_TA_SITE_METHOD = local
FOC_TA_LICENSE = Apache-2.0
# Leave out a developer's build outputs (dev kit and host-native builds).
FOC_TA_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=/out/ --exclude=/native/out/
# optee-os installs the TA dev kit; its signing script needs the host
# python3 with cryptography.
FOC_TA_DEPENDENCIES = optee-os host-python3 host-python-cryptography

FOC_TA_SIGN_KEY = $(call qstrip,$(BR2_PACKAGE_FOC_TA_SIGN_KEY))

FOC_TA_MAKE_OPTS = \
	CROSS_COMPILE="$(TARGET_CROSS)" \
	TA_DEV_KIT_DIR=$(OPTEE_OS_SDK) \
	FOC_MBEDTLS_DIR=$(OPTEE_OS_DIR)/lib/libmbedtls/mbedtls \
	PYTHON3=$(HOST_DIR)/bin/python3 \
	O=$(@D)/out \
	$(if $(FOC_TA_SIGN_KEY),TA_SIGN_KEY=$(FOC_TA_SIGN_KEY))

define FOC_TA_BUILD_CMDS
	$(TARGET_MAKE_ENV) $(MAKE) -C $(@D) $(FOC_TA_MAKE_OPTS) all
endef

define FOC_TA_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0444 -t $(TARGET_DIR)/lib/optee_armtz $(@D)/out/*.ta
endef

$(eval $(generic-package))
