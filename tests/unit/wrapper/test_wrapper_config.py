"""Wrapper configuration: env, file, explicit values, and clear errors."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from foc.chaincode.memory import MemoryStub
from foc.chaincode.stub import Response
from foc.errors import ConfigError, UsageError
from foc.wrapper.config import FOC_TA_UUID, load_config, parse_address, parse_ta_uuid


def test_missing_address_names_every_way_to_set_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env={}, path=tmp_path / "absent.toml")
    text = str(info.value)
    assert "FOC_PROXY_ADDRESS" in text and "--proxy" in text and info.value.exit_code == 3


def test_env_beats_file_and_explicit_beats_env(tmp_path: Path) -> None:
    cfg_file = tmp_path / "foc.toml"
    other = uuid.uuid4()
    cfg_file.write_text(
        f'[proxy]\naddress = "10.0.0.1:5000"\nta_uuid = "{other}"\ntimeout = 3\nallow_plaintext = true\n'
    )
    from_file = load_config(env={}, path=cfg_file)
    assert from_file.proxy_address == "10.0.0.1:5000" and from_file.ta_uuid == other
    assert from_file.timeout_s == 3.0 and not from_file.tls
    env = {"FOC_PROXY_ADDRESS": "127.0.0.1:6000", "FOC_CONFIG": str(cfg_file)}
    assert load_config(env=env).proxy_address == "127.0.0.1:6000"
    assert load_config(env=env, proxy_address="[::1]:7000").proxy_address == "[::1]:7000"


def test_defaults_are_focs_ta_and_30s(tmp_path: Path) -> None:
    cfg = load_config(env={"FOC_PROXY_ADDRESS": "127.0.0.1:1"}, path=tmp_path / "x.toml")
    assert cfg.ta_uuid == FOC_TA_UUID and cfg.timeout_s == 30.0


@pytest.mark.parametrize("address", ["h:1", "192.0.2.7:50051", "[2001:db8::1]:50051", "0.0.0.0:50051"])
def test_plaintext_off_the_loopback_is_refused_unless_allowed(tmp_path: Path, address: str) -> None:
    with pytest.raises(ConfigError, match="refusing plaintext") as info:
        load_config(env={"FOC_PROXY_ADDRESS": address}, path=tmp_path / "x.toml")
    assert "FOC_PROXY_TLS_CA" in (info.value.hint or "")
    assert not load_config(env={"FOC_PROXY_ADDRESS": address, "FOC_PROXY_ALLOW_PLAINTEXT": "1"},
                           path=tmp_path / "x.toml").tls  # fmt: skip
    assert not load_config(proxy_address=address, allow_plaintext=True, env={}, path=tmp_path / "x.toml").tls
    (tmp_path / "proxy.crt").write_text("pem")
    pinned = load_config(proxy_address=address, tls_ca=tmp_path / "proxy.crt", tls_server_name="foc-proxy",
                         env={}, path=tmp_path / "x.toml")  # fmt: skip
    assert pinned.tls and pinned.tls_server_name == "foc-proxy"


@pytest.mark.parametrize("address", ["127.0.0.1:1", "127.3.2.1:9", "[::1]:5", "localhost:7"])
def test_plaintext_on_the_loopback_is_fine(tmp_path: Path, address: str) -> None:
    assert not load_config(env={"FOC_PROXY_ADDRESS": address}, path=tmp_path / "x.toml").tls


def test_tls_ca_must_exist(tmp_path: Path) -> None:
    env = {"FOC_PROXY_ADDRESS": "h:1", "FOC_PROXY_TLS_CA": str(tmp_path / "ca.pem")}
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(env=env, path=tmp_path / "x.toml")
    (tmp_path / "ca.pem").write_text("pem")
    assert load_config(env=env, path=tmp_path / "x.toml").tls


@pytest.mark.parametrize("bad", ["nohost", ":50051", "h:", "h:0", "h:70000", "h:abc", "::1:5"])
def test_bad_addresses(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_address(bad)


def test_uuid_forms() -> None:
    assert parse_ta_uuid("6ceb95bae9b1482aa1bda1ebca0671b9") == FOC_TA_UUID  # FOC's setup form
    assert parse_ta_uuid(FOC_TA_UUID.bytes) == FOC_TA_UUID
    with pytest.raises(ConfigError):
        parse_ta_uuid("6ceb95ba")


def test_broken_config_file_and_timeout(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[proxy\n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(env={}, path=bad)
    with pytest.raises(ConfigError, match="timeout"):
        load_config(env={"FOC_PROXY_ADDRESS": "127.0.0.1:1", "FOC_PROXY_TIMEOUT": "-1"}, path=tmp_path / "x")


def test_memory_stub_semantics() -> None:
    state = {"a": b"1", "b": b"2", "c": b"3"}
    stub = MemoryStub(["f", "x"], state=state, creator=b"cert", transient={"k": b"v"})
    assert stub.get_function_and_parameters() == ("f", ["x"])
    assert [e.key for e in stub.get_state_by_range("b", "")] == ["b", "c"]
    assert [e.key for e in stub.get_state_by_range("a", "c")] == ["a", "b"]
    stub.put_state("a", b"9")
    stub.del_state("b")
    assert stub.get_state("a") == b"1"  # no read-your-writes
    stub.commit()
    assert state == {"a": b"9", "c": b"3"}
    assert stub.get_creator() == b"cert" and dict(stub.get_transient()) == {"k": b"v"}
    for bad_key in ("", "\x00composite"):
        with pytest.raises(UsageError):
            stub.put_state(bad_key, b"1")
    with pytest.raises(UsageError):
        stub.put_state("k", "text")  # type: ignore[arg-type]


def test_response_status_meaning() -> None:
    assert Response.success(b"x").endorsed
    assert not Response.error("E: m").endorsed
    assert not Response(404, "nope").endorsed
    with pytest.raises(ValueError):
        Response.error("m", status=200)


def test_mutual_tls_client_pair_from_env_and_file(tmp_path: Path) -> None:
    """FOC_PROXY_TLS_CERT/KEY ([proxy] tls_cert/tls_key): both, with the proxy's CA, and files that exist."""
    ca, crt, key = (tmp_path / n for n in ("ca.pem", "client.crt", "client.key"))
    for f in (ca, crt, key):
        f.write_text("pem")
    base = {"FOC_PROXY_ADDRESS": "192.0.2.7:50051", "FOC_PROXY_TLS_CA": str(ca)}
    none = tmp_path / "none.toml"
    config = load_config(
        env={**base, "FOC_PROXY_TLS_CERT": str(crt), "FOC_PROXY_TLS_KEY": str(key)}, path=none
    )
    assert config.tls_client == (key, crt)
    assert load_config(env=base, path=none).tls_client is None
    toml = tmp_path / "foc.toml"
    toml.write_text(f'[proxy]\ntls_cert = "{crt}"\ntls_key = "{key}"\n')
    assert load_config(env=base, path=toml).tls_client == (key, crt)
    with pytest.raises(ConfigError, match="both the client certificate and its key"):
        load_config(env={**base, "FOC_PROXY_TLS_CERT": str(crt)}, path=none)
    with pytest.raises(ConfigError, match="client key file .* does not exist"):
        load_config(
            env={**base, "FOC_PROXY_TLS_CERT": str(crt), "FOC_PROXY_TLS_KEY": str(tmp_path / "x")}, path=none
        )
    plain = {
        "FOC_PROXY_ADDRESS": "127.0.0.1:50051",
        "FOC_PROXY_TLS_CERT": str(crt),
        "FOC_PROXY_TLS_KEY": str(key),
    }
    with pytest.raises(ConfigError, match="needs TLS"):
        load_config(env=plain, path=none)
