#!/bin/sh
# Boots the image of foc_qemu_aarch64_defconfig the way `foc-deploy qemu up`
# boots its own: QEMU virt with the secure world on (TF-A, OP-TEE), GICv3,
# Cortex-A57 (-cpu max hangs the first TA with QEMU 7.2), 2 CPUs, 1 GiB.
# The normal world's console is this terminal, the secure world's UART goes
# to secure-world.log; foc-proxy's port 50051 is forwarded to 127.0.0.1.
# Usage: start-qemu.sh [extra QEMU options]
#   QEMU=<qemu-system-aarch64>  FOC_PROXY_PORT=<host port, default 50051>
set -eu

IMAGES="$(cd "$(dirname "$0")" && pwd)"
QEMU="${QEMU:-qemu-system-aarch64}"
PORT="${FOC_PROXY_PORT:-50051}"

exec "$QEMU" \
	-machine virt,secure=on,virtualization=off,gic-version=3 \
	-cpu cortex-a57 -smp 2 -m 1024 -nographic \
	-bios "$IMAGES/qemu_fw.bios" \
	-kernel "$IMAGES/Image" \
	-append "root=/dev/vda rootwait console=ttyAMA0" \
	-drive "file=$IMAGES/rootfs.ext4,if=none,format=raw,id=hd0" \
	-device virtio-blk-device,drive=hd0 \
	-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:50051" \
	-device virtio-net-device,netdev=n0 \
	-serial mon:stdio -serial "file:$IMAGES/secure-world.log" \
	"$@"
