"""A Fabric peer's external builder host: runs `bin/detect`, `build`, `release`, `run` as a peer does.

What it reproduces (Fabric core/container/externalbuilder: externalbuilder.go, instance.go; docs
"External Builders and Launchers"):
* install: the package id is `label:sha256(package)`; metadata.json and code.tar.gz are taken from
  the package and nothing else is looked at;
* build context: a scratch directory `fabric-<package id, sanitized>...` with `src/` (code.tar.gz
  unpacked), `metadata/metadata.json`, `bld/` and `release/`; `bin/detect SRC METADATA` (exit 0 claims
  the package), `bin/build SRC METADATA BLD`, `bin/release BLD RELEASE` if it exists; then `bld/` and
  `release/` move to the durable path `<durable>/<sanitized id>/` beside `build-info.json`, and the
  scratch directory goes;
* launch: `release/chaincode/server/connection.json` means chaincode-as-a-service (no run);
  otherwise a fresh directory holds `chaincode.json` (mode 0600: chaincode_id, peer_address,
  client_cert, client_key, root_cert, mspid) and `bin/run BLD RUN_METADATA` starts; the peer
  considers the chaincode terminated when it exits;
* every program gets only PATH, LD_LIBRARY_PATH, LIBPATH, TMPDIR and the builder's
  propagateEnvironment variables from the peer's environment.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ENV_WHITELIST = ("LD_LIBRARY_PATH", "LIBPATH", "PATH", "TMPDIR")


def sanitize(package_id: str) -> str:
    """SanitizeCCIDPath: characters a file name cannot hold become '-'."""
    return re.sub(r"[<>:\"/\\|?*&]", "-", package_id)


@dataclass
class Built:
    package_id: str
    bld: Path
    release: Path


class FakeBuilderHost:
    """One external builder (`builder_dir/bin/...`) as a peer with `durable` as its builds directory."""

    def __init__(self, builder_dir: Path, durable: Path, propagate: dict[str, str] | None = None) -> None:
        self.builder_dir = builder_dir
        self.durable = durable
        self.propagate = dict(propagate or {})  # core.yaml propagateEnvironment (name -> value here)
        self.ran: list[tuple[str, list[str]]] = []  # (program, argv) of every invocation
        self.processes: list[subprocess.Popen[str]] = []
        durable.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in DEFAULT_ENV_WHITELIST if k in os.environ}
        env.update(self.propagate)
        return env

    def _program(self, name: str, *args: Path) -> subprocess.CompletedProcess[str]:
        argv = [str(self.builder_dir / "bin" / name), *map(str, args)]
        self.ran.append((name, argv))
        return subprocess.run(argv, env=self.env(), capture_output=True, text=True, timeout=120, check=False)

    @staticmethod
    def package_id(package: Path) -> str:
        data = package.read_bytes()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            member = tar.extractfile("metadata.json")
            assert member is not None
            label = json.loads(member.read())["label"]
        return f"{label}:{hashlib.sha256(data).hexdigest()}"

    def install(self, package: Path) -> Built | None:
        """detect, build and release `package`; None when the builder does not claim it.
        AssertionError (with the program's stderr) when build or release fail."""
        package_id = self.package_id(package)
        with tarfile.open(package, mode="r:gz") as tar:
            metadata = tar.extractfile("metadata.json")
            code = tar.extractfile("code.tar.gz")
            assert metadata is not None and code is not None
            metadata_bytes, code_bytes = metadata.read(), code.read()
        scratch = Path(tempfile.mkdtemp(prefix=f"fabric-{sanitize(package_id)}"))
        try:
            src, meta, bld, rel = (scratch / d for d in ("src", "metadata", "bld", "release"))
            for d in (src, meta, bld, rel):
                d.mkdir(mode=0o700)
            with tarfile.open(fileobj=io.BytesIO(code_bytes), mode="r:gz") as code_tar:
                _extract_data(code_tar, src)
            (meta / "metadata.json").write_bytes(metadata_bytes)
            (meta / "metadata.json").chmod(0o700)
            if self._program("detect", src, meta).returncode != 0:
                return None
            result = self._program("build", src, meta, bld)
            assert result.returncode == 0, f"bin/build failed: {result.stderr}"
            if (self.builder_dir / "bin" / "release").exists():
                result = self._program("release", bld, rel)
                assert result.returncode == 0, f"bin/release failed: {result.stderr}"
            durable = self.durable / sanitize(package_id)
            durable.mkdir(mode=0o700)
            (durable / "build-info.json").write_text(json.dumps({"builder_name": "foc"}))
            shutil.move(rel, durable / "release")
            shutil.move(bld, durable / "bld")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return Built(package_id, durable / "bld", durable / "release")

    def launch(
        self,
        built: Built,
        peer_address: str,
        *,
        root_cert: bytes = b"",
        client_cert: bytes = b"",
        client_key: bytes = b"",
        mspid: str = "Org1MSP",
    ) -> subprocess.Popen[str]:
        """Start `bin/run` (chaincode-as-client); AssertionError if the release says CaaS."""
        assert not (built.release / "chaincode" / "server" / "connection.json").exists(), "a ccaas release"
        launch_dir = Path(tempfile.mkdtemp(prefix="fabric-run"))
        run_config = {
            "chaincode_id": built.package_id,
            "peer_address": peer_address,
            "client_cert": client_cert.decode(),
            "client_key": client_key.decode(),
            "root_cert": root_cert.decode(),
            "mspid": mspid,
        }
        (launch_dir / "chaincode.json").write_text(json.dumps(run_config))
        (launch_dir / "chaincode.json").chmod(0o600)
        argv = [str(self.builder_dir / "bin" / "run"), str(built.bld), str(launch_dir)]
        self.ran.append(("run", argv))
        process = subprocess.Popen(
            argv,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        """SIGTERM every run process (the peer stopping a chaincode), then wait."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _extract_data(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract regular files and directories only, inside `dest` (tarfile's "data" filter, which
    Debian 12's Python 3.11.2 does not have: it came in 3.11.4)."""
    for member in tar.getmembers():
        parts = Path(member.name).parts
        assert not member.name.startswith("/") and ".." not in parts, f"unsafe path {member.name!r}"
        assert member.isfile() or member.isdir(), f"{member.name!r} is not a file or directory"
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
    else:
        tar.extractall(dest)  # every member was checked above
