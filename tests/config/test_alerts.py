"""The link endpoint's settings: HTTPS, or loopback behind a proxy; certificates checked when the file loads."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gunwatch.config import ConfigError, parse_site_config
from gunwatch.config.alerts import LinkSettings
from support.smtp_server import self_signed_tls

SECRET = "a-link-secret-of-32-characters!!"


def site_with_links(links: str) -> str:
    return f"cameras: {{lobby: {{url: clips/a.mp4}}}}\nalerts:\n  links: {{secret: '{SECRET}', {links}}}\n"


def problems(links: str) -> list[tuple[str | None, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_site_config(site_with_links(links), "site.yaml")
    return [(problem.key, problem.message) for problem in caught.value.problems]


def test_plain_http_beyond_loopback_is_refused_at_base_url() -> None:
    [(key, message)] = problems("base_url: 'http://gunwatch.school.org:8780', listen: '0.0.0.0:8780'")
    assert key == "alerts.links.base_url"
    assert "must be https://" in message and "0.0.0.0:8780" in message


def test_https_beyond_loopback_needs_the_endpoints_own_tls() -> None:
    [(key, message)] = problems("base_url: 'https://gunwatch.school.org:8780', listen: '0.0.0.0:8780'")
    assert key == "alerts.links.tls" and "needs tls (cert and key)" in message


@pytest.mark.parametrize("listen", ["127.0.0.1:8780", "127.0.0.53:8780", "[::1]:8780", "localhost:8780"])
@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8780", "https://gunwatch.school.org"])
def test_loopback_may_serve_http_behind_a_proxy(listen: str, base_url: str) -> None:
    config = parse_site_config(site_with_links(f"base_url: '{base_url}', listen: '{listen}'"))
    assert config.alerts.links.loopback and config.alerts.links.tls is None


def test_a_base_url_that_is_no_web_address_is_refused() -> None:
    [(key, _)] = problems("base_url: 'ftp://gunwatch.school.org'")
    assert key == "alerts.links.base_url"


def test_tls_files_are_loaded_with_the_site_file(tmp_path: Path) -> None:
    files = self_signed_tls(tmp_path)
    tls = f"tls: {{cert: '{files.cert}', key: '{files.key}'}}"
    config = parse_site_config(site_with_links(f"base_url: 'https://gw.school.org', listen: '0.0.0.0:8780', {tls}"))
    assert config.alerts.links.tls is not None and config.alerts.links.tls.cert == files.cert
    # TLS but links that say http: the recipients' links would not reach it.
    [(key, _)] = problems(f"base_url: 'http://127.0.0.1:8780', {tls}")
    assert key == "alerts.links.base_url"


def test_missing_or_mismatched_tls_files_are_named(tmp_path: Path) -> None:
    assert problems(f"base_url: 'https://gw.org', tls: {{cert: '{tmp_path}/no.pem', key: '{tmp_path}/no.key'}}") == [
        ("alerts.links.tls.cert", f"no file {tmp_path}/no.pem"), ("alerts.links.tls.key", f"no file {tmp_path}/no.key")]
    (tmp_path / "one").mkdir()
    (tmp_path / "other").mkdir()
    one, other = self_signed_tls(tmp_path / "one"), self_signed_tls(tmp_path / "other")
    [(key, message)] = problems(f"base_url: 'https://gw.org', tls: {{cert: '{one.cert}', key: '{other.key}'}}")
    assert key == "alerts.links.tls.cert" and "cannot serve TLS with this certificate and key" in message


def test_an_encrypted_key_is_refused_without_prompting(tmp_path: Path) -> None:
    files = self_signed_tls(tmp_path)
    encrypted = tmp_path / "encrypted.key"
    subprocess.run(["openssl", "pkey", "-in", str(files.key), "-aes256", "-passout", "pass:secret-pass",
                    "-out", str(encrypted)], check=True, capture_output=True, timeout=30)
    [(key, message)] = problems(f"base_url: 'https://gw.org', tls: {{cert: '{files.cert}', key: '{encrypted}'}}")
    assert key == "alerts.links.tls.cert" and "the key is encrypted" in message


def test_link_lifetimes_are_per_kind_and_bounded() -> None:
    assert LinkSettings(expire_s={"pre_alert": 120}).expire_s.of("pre_alert") == 120.0
    assert LinkSettings().expire_s.of("alert") == 7200.0
    assert problems("expire_s: 86400")[0][0] == "alerts.links.expire_s"  # one lifetime for all: no more
    assert problems("expire_s: {alert: 172800}") == [("alerts.links.expire_s.alert", "must be <= 86400, got 172800")]
