################################################################################
#
# python-foc
#
################################################################################

# Built from the FOC checkout this br2-external tree lives in
# (FOC_REPO_DIR and FOC_REPO_VERSION come from external.mk).
PYTHON_FOC_VERSION = $(FOC_REPO_VERSION)
PYTHON_FOC_SITE = $(FOC_REPO_DIR)
PYTHON_FOC_SITE_METHOD = local
PYTHON_FOC_SETUP_TYPE = setuptools
PYTHON_FOC_LICENSE = Apache-2.0
# The distribution is built from pyproject.toml and foc/ only: leave out
# the rest of the checkout (tests, ta/, a developer's .venv, ...).
PYTHON_FOC_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=__pycache__ --exclude=*.pyc \
	--include=/pyproject.toml --include=/foc/*** --exclude=*

# Runtime dependencies of foc-proxy, selected in Config.in. Their
# versions in Buildroot 2026.02.3 against the pins of pyproject.toml
# (why each difference is compatible: docs/buildroot.md):
#   python-grpcio 1.76.0 (pyproject.toml: grpcio==1.75.1)
#   python-protobuf 6.33.5 (pyproject.toml: protobuf==5.29.5)
#   python-cryptography 46.0.3 (pyproject.toml: cryptography==48.0.0)

# foc-proxy runs unprivileged; group tee gives it /dev/tee0. With systemd,
# optee-client's tee-supplicant@.service runs as user teesuppl and relies
# on udev to give the TEE devices to the groups tee and teepriv; Buildroot
# creates none of them, so they are created here, with the udev rule and
# the secure storage directory the unit needs.
define PYTHON_FOC_USERS
	foc -1 foc -1 * - - tee FOC proxy
	$(if $(BR2_INIT_SYSTEMD),teesuppl -1 teesuppl -1 * - - teepriv OP-TEE tee-supplicant)
endef

define PYTHON_FOC_INSTALL_PROXY_DEFAULTS
	$(INSTALL) -D -m 0644 $(PYTHON_FOC_PKGDIR)/foc-proxy.default \
		$(TARGET_DIR)/etc/default/foc-proxy
endef
PYTHON_FOC_POST_INSTALL_TARGET_HOOKS += PYTHON_FOC_INSTALL_PROXY_DEFAULTS

# BusyBox init: optee-client's S30tee-supplicant starts tee-supplicant.
define PYTHON_FOC_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(PYTHON_FOC_PKGDIR)/S95foc-proxy \
		$(TARGET_DIR)/etc/init.d/S95foc-proxy
endef

define PYTHON_FOC_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(PYTHON_FOC_PKGDIR)/foc-proxy.service \
		$(TARGET_DIR)/usr/lib/systemd/system/foc-proxy.service
	$(INSTALL) -D -m 0644 $(PYTHON_FOC_PKGDIR)/60-foc-tee.rules \
		$(TARGET_DIR)/usr/lib/udev/rules.d/60-foc-tee.rules
	mkdir -p $(TARGET_DIR)/usr/lib/tmpfiles.d
	printf 'd %s 0700 teesuppl teesuppl -\n' \
		$(BR2_PACKAGE_OPTEE_CLIENT_TEE_FS_PATH) \
		> $(TARGET_DIR)/usr/lib/tmpfiles.d/foc-tee-supplicant.conf
endef

$(eval $(python-package))
