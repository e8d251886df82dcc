"""Test tiers: unit (default), native (host build of the trusted core), qemu (real OP-TEE)."""
