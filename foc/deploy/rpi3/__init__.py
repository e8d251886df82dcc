"""The rpi3 target: a Raspberry Pi 3 board, or its SD image booted under QEMU's raspi3b machine.

- `sdimage`: reading the built SD image (partition table, FAT files, config.txt) and its static checks
- `firmware`: what the VideoCore firmware does before the ARM cores start (config.txt, DT fix-ups),
  for the raspi3b emulation, where QEMU cannot run the VideoCore
- `emulator`: the SD image under `qemu-system-aarch64 -M raspi3b`, its serial ports on ptys
- `flash`: writing the image to an SD card (refusals, progress, read-back hash)
- `ssh`: provisioning over SSH with `fabric` (TA, foc package, the proxy's TLS identity)
- `identity`: the board's SSH and TLS credentials on the host (pinned host key, proxy certificate)
- `runtime`: `Rpi3Runtime`, the target's `TargetRuntime`
"""
