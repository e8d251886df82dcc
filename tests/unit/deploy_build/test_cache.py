"""Step cache: keys are content hashes of inputs; outputs are published atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from foc.deploy.build.cache import StepCache, cache_key, tree_digest


def test_cache_key_is_independent_of_dict_order_and_sensitive_to_values() -> None:
    a = cache_key({"pin": "optee-os=4.10.0-2", "options": ["CFG_ATTESTATION_PTA=y"]})
    b = cache_key({"options": ["CFG_ATTESTATION_PTA=y"], "pin": "optee-os=4.10.0-2"})
    c = cache_key({"pin": "optee-os=4.10.0-3", "options": ["CFG_ATTESTATION_PTA=y"]})
    d = cache_key({"pin": "optee-os=4.10.0-2", "options": ["CFG_ATTESTATION_PTA=n"]})
    assert a == b
    assert len({a, c, d}) == 3


def test_tree_digest_follows_content_and_ignores_pycache(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "mod.py").write_text("x = 1\n")
    first = tree_digest(tmp_path)
    (tmp_path / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"junk")
    assert tree_digest(tmp_path) == first
    (tmp_path / "pkg" / "mod.py").write_text("x = 2\n")
    assert tree_digest(tmp_path) != first


def test_tree_digest_excludes_and_sees_renames(tmp_path: Path) -> None:
    (tmp_path / "a.c").write_text("int a;\n")
    (tmp_path / "a.o").write_bytes(b"\x7fELF")
    base = tree_digest(tmp_path, exclude=lambda rel: rel.suffix == ".o")
    (tmp_path / "a.o").write_bytes(b"\x7fELF changed")
    assert tree_digest(tmp_path, exclude=lambda rel: rel.suffix == ".o") == base
    (tmp_path / "a.c").rename(tmp_path / "b.c")
    assert tree_digest(tmp_path, exclude=lambda rel: rel.suffix == ".o") != base
    assert tree_digest(tmp_path / "nope") == "missing"


def test_produce_publishes_complete_output(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    assert cache.lookup("kernel", "k1") is None

    def build(out: Path) -> None:
        (out / "vmlinuz").write_bytes(b"kernel")

    out = cache.produce("kernel", "k1", build)
    assert out == tmp_path / "kernel" / "k1"
    assert cache.lookup("kernel", "k1") == out
    assert (out / "vmlinuz").read_bytes() == b"kernel"


def test_interrupted_step_leaves_nothing_behind(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)

    def build(out: Path) -> None:
        (out / "half").write_text("partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.produce("rootfs", "k1", build)
    assert cache.lookup("rootfs", "k1") is None
    assert list((tmp_path / "rootfs").iterdir()) == []


def test_replace_rebuilds_and_prune_keeps_only_current(tmp_path: Path) -> None:
    cache = StepCache(tmp_path)
    cache.produce("ta", "old", lambda out: (out / "x.ta").write_text("old"))
    cache.produce("ta", "new", lambda out: (out / "x.ta").write_text("v1"))
    cache.produce("ta", "new", lambda out: (out / "x.ta").write_text("v2"), replace=True)
    assert (tmp_path / "ta" / "new" / "x.ta").read_text() == "v2"
    gone = cache.prune("ta", keep=["new"])
    assert [p.name for p in gone] == ["old"]
    assert cache.lookup("ta", "old") is None
