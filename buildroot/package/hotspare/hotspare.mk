################################################################################
#
# hotspare
#
################################################################################
# The Hotspare firmware (/usr/bin/hotspare), built with Buildroot's cargo package
# infrastructure from the repository that holds this BR2_EXTERNAL tree (buildroot/.. is
# the Cargo workspace), default features = the production firmware, like scripts/build-image.

# the workspace version ([workspace.package] version in Cargo.toml)
HOTSPARE_VERSION = $(firstword $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' \
	$(BR2_EXTERNAL_HOTSPARE_PATH)/../Cargo.toml))
HOTSPARE_SITE = $(realpath $(BR2_EXTERNAL_HOTSPARE_PATH)/..)
HOTSPARE_SITE_METHOD = local
# build outputs and caches of the working tree are not sources
HOTSPARE_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = --exclude /target --exclude /.cache \
	--exclude /output
HOTSPARE_SUBDIR = firmware/hotspare
HOTSPARE_LICENSE = GPL-3.0-or-later
# libudev (the supervisor's disk hot-plug monitor, the udev crate) found with pkg-config
HOTSPARE_DEPENDENCIES = udev host-pkgconf

# The repository's .cargo/config.toml points pkg-config of this target at Debian's multiarch
# libudev-dev (/usr/lib/aarch64-linux-gnu): here it is the staging sysroot. Environment
# variables take precedence over its [env] table.
HOTSPARE_PKG_CONFIG_TARGET = $(subst -,_,$(RUSTC_TARGET_NAME))
HOTSPARE_CARGO_ENV = \
	PKG_CONFIG_ALLOW_CROSS_$(HOTSPARE_PKG_CONFIG_TARGET)=1 \
	PKG_CONFIG_LIBDIR_$(HOTSPARE_PKG_CONFIG_TARGET)="$(STAGING_DIR)/usr/lib/pkgconfig:$(STAGING_DIR)/usr/share/pkgconfig" \
	PKG_CONFIG_SYSROOT_DIR_$(HOTSPARE_PKG_CONFIG_TARGET)="$(STAGING_DIR)"

# A local site is rsynced, not downloaded: the download step's vendoring (cargo
# post-process) does not run, and the cargo infrastructure builds --offline. Fetch the
# crates of Cargo.lock into Buildroot's cargo home (in DL_DIR, so fetched once) first.
define HOTSPARE_FETCH_CRATES
	cd $(HOTSPARE_SRCDIR) && \
	$(TARGET_MAKE_ENV) $(PKG_CARGO_ENV) $(HOTSPARE_CARGO_ENV) \
		cargo fetch --locked --manifest-path Cargo.toml
endef
HOTSPARE_PRE_BUILD_HOOKS += HOTSPARE_FETCH_CRATES

# The default install step (`cargo install --path ./`) would build again; install the
# binary the build step made (the workspace's target directory).
define HOTSPARE_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 \
		$(@D)/target/$(RUSTC_TARGET_NAME)/$(if $(BR2_ENABLE_DEBUG),debug,release)/hotspare \
		$(TARGET_DIR)/usr/bin/hotspare
endef

$(eval $(cargo-package))
