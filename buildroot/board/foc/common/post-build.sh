#!/bin/sh
# Post-build script of the FOC defconfigs: records in /etc/foc-release which
# FOC source tree, Buildroot release and TAs the image carries.
# Usage (Buildroot): post-build.sh TARGET_DIR [ignored arguments]
set -eu

TARGET_DIR="$1"
FOC_DIR="$(cd "$(dirname "$0")/../../../.." && pwd)"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$FOC_DIR/pyproject.toml")
revision=$(git -C "$FOC_DIR" describe --always --dirty 2>/dev/null || echo unknown)
tas=""
for ta in "$TARGET_DIR"/lib/optee_armtz/*.ta; do
	if [ -f "$ta" ]; then
		tas="$tas${tas:+ }$(basename "$ta")"
	fi
done

cat > "$TARGET_DIR/etc/foc-release" <<EOT
FOC_VERSION=$version
FOC_REVISION=$revision
BUILDROOT_VERSION=${BR2_VERSION:-unknown}
TRUSTED_APPLICATIONS="$tas"
EOT
