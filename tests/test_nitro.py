"""NITRO credentials, the Secret type and the role map (no network)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from types import SimpleNamespace

import pytest

from nscheck.model import Precondition
from nscheck.nitro.credentials import CredentialError, load_credentials
from nscheck.nitro.rolemap import NitroMap, load_nitro_map
from nscheck.nitro.secret import Secret
from nscheck.paths import signatures_dir
from nscheck.signatures import SignatureError

PW = "s3cr3t-Pa55word"


def _opts(**kw: object) -> SimpleNamespace:
    d = {"nitro_user": None, "nitro_password_file": None, "nitro_credentials": None}
    d.update(kw)
    return SimpleNamespace(**d)


def _private(p: Path, text: str, mode: int = 0o600) -> Path:
    p.write_text(text)
    os.chmod(p, mode)
    return p


def test_secret_never_shows_itself() -> None:
    s = Secret(PW)
    assert str(s) == repr(s) == f"{s}" == "***"
    assert PW not in repr({"pw": s}) and PW not in json.dumps({"pw": s}, default=str)
    assert s.reveal() == PW
    assert s.scrub(f"error: header X-NITRO-PASS: {PW}") == "error: header X-NITRO-PASS: ***"
    with pytest.raises(TypeError):
        pickle.dumps(s)
    try:
        raise ValueError(s)
    except ValueError as e:
        assert PW not in str(e)


def test_user_needs_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CredentialError, match="NSCHECK_NITRO_PASSWORD"):
        load_credentials(_opts(nitro_user="ro"), env={})
    creds = load_credentials(_opts(nitro_user="ro"), env={"NSCHECK_NITRO_PASSWORD": PW})
    assert creds is not None and creds.default is not None and creds.default.password.reveal() == PW
    assert PW not in repr(creds)
    assert load_credentials(_opts(), env={"NSCHECK_NITRO_PASSWORD": PW}) is None  # no user: no NITRO at all


@pytest.mark.skipif(os.name != "posix", reason="file modes")
def test_password_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    f = _private(tmp_path / "pw", PW + "\n", 0o644)
    with pytest.raises(CredentialError, match="chmod 600") as e:
        load_credentials(_opts(nitro_user="ro", nitro_password_file=str(f)), env={})
    assert PW not in str(e.value)
    os.chmod(f, 0o600)
    creds = load_credentials(_opts(nitro_user="ro", nitro_password_file=str(f)), env={})
    assert creds is not None and creds.default is not None and creds.default.password.reveal() == PW
    with pytest.raises(CredentialError, match="needs --nitro-user"):
        load_credentials(_opts(nitro_password_file=str(f)), env={})


@pytest.mark.skipif(os.name != "posix", reason="file modes")
def test_credentials_file(tmp_path: Path) -> None:
    text = (f'[default]\nuser = "ro"\npassword = "{PW}"\n\n'
            f'[hosts."gw.example.org"]\nnitro = "https://10.0.0.5:8443"\nuser = "gwro"\npassword = "{PW}x"\n')
    f = _private(tmp_path / "creds.toml", text, 0o640)
    with pytest.raises(CredentialError, match="too open"):
        load_credentials(_opts(nitro_credentials=str(f)), env={})
    os.chmod(f, 0o600)
    creds = load_credentials(_opts(nitro_credentials=str(f)), env={})
    assert creds is not None
    gw = creds.lookup("gw.example.org", "gw.example.org", 443)
    assert gw is not None and gw.user == "gwro" and gw.nitro_url == "https://10.0.0.5:8443" and gw.explicit
    other = creds.lookup("other.example.org", "other.example.org", 443)
    assert other is not None and other.user == "ro" and not other.explicit and other.nitro_url is None
    # Errors name the key, never the value.
    _private(f, f'[hosts."x"]\nuser = "u"\npasword = "{PW}"\n')
    with pytest.raises(CredentialError, match="pasword") as e:
        load_credentials(_opts(nitro_credentials=str(f)), env={})
    assert PW not in str(e.value)
    _private(f, f'[hosts."x"]\nuser = "u"\npassword = "{PW}"\nnitro = "https://u:p@10.0.0.5"\n')
    with pytest.raises(CredentialError, match="no user or password in the URL"):
        load_credentials(_opts(nitro_credentials=str(f)), env={})


def test_config_refuses_a_password_key(tmp_path: Path) -> None:
    from nscheck.config import ConfigError, load

    f = tmp_path / "scan.toml"
    f.write_text(f'nitro-user = "ro"\nnitro-password = "{PW}"\n')
    with pytest.raises(ConfigError, match="never put a password here") as e:
        load(f)
    assert PW not in str(e.value)
    f.write_text('nitro-user = "ro"\nnitro-password-file = "pw"\nnitro-credentials = "creds.toml"\n')
    v = load(f)
    assert v["nitro_user"] == "ro" and v["nitro_password_file"] == str(tmp_path / "pw")


def _manifest_roles() -> set[str]:
    import yaml

    doc = yaml.safe_load((signatures_dir(None) / "manifest.yaml").read_text())
    return set(doc["roles"])


def _required_roles() -> set[str]:
    import yaml

    out: set[str] = set()
    for p in (signatures_dir(None) / "advisories").glob("*.yaml"):
        for cve in yaml.safe_load(p.read_text()).get("cves") or ():
            req = cve.get("requires")
            if isinstance(req, list):
                out |= {r for g in req for r in g}
    return out


def test_every_role_is_mapped_or_declared_not_decidable() -> None:
    nmap = load_nitro_map(signatures_dir(None))
    decidable = nmap.decidable()
    missing = (_manifest_roles() | _required_roles()) - set(decidable)
    assert not missing, f"roles with no NITRO mapping and no not_decidable reason: {sorted(missing)}"
    for role, why in decidable.items():
        rule = nmap.roles[role]
        assert why is None or len(why) > 20, role  # a real reason
        assert rule.always or rule.not_decidable or all(c.resource for alt in rule.any_of for c in alt)


def test_rolemap_errors_point_at_file_and_line(tmp_path: Path) -> None:
    src = (signatures_dir(None) / "nitro.yaml").read_text()
    bad = src.replace("  gateway:\n    any_of:\n      - [{resource: vpnvserver}]",
                      "  gateway:\n    any_of:\n      - [{resource: VPN-vserver}]")
    assert bad != src
    (tmp_path / "nitro.yaml").write_text(bad)
    with pytest.raises(SignatureError) as e:
        load_nitro_map(tmp_path)
    line = next(i for i, ln in enumerate(bad.splitlines(), 1) if "VPN-vserver" in ln)
    assert f"nitro.yaml:{line}" in str(e.value) and "resource name" in str(e.value)
    (tmp_path / "nitro.yaml").write_text(src.replace("    not_decidable: whether an attacker shares",
                                                     "    oops: whether an attacker shares"))
    with pytest.raises((SignatureError, ExceptionGroup)):
        load_nitro_map(tmp_path)


def test_role_evaluation_is_three_valued() -> None:
    import asyncio

    from nscheck.nitro.probe import NitroRead, _Reader

    nmap: NitroMap = load_nitro_map(signatures_dir(None))

    class F:
        base_url = "https://nsip"
        requests_sent = 0

        def __init__(self, answers: dict[str, tuple[int, dict]]):
            self.answers = answers

        def url_for(self, p: str) -> str:
            return self.base_url + p

        async def get(self, path: str, **_: object):  # type: ignore[no-untyped-def]
            from nscheck.probe.types import HttpResponse

            res = path.rsplit("/", 1)[-1]
            st, doc = self.answers.get(res, (200, {"errorcode": 0, "message": "Done", "severity": "NONE"}))
            return HttpResponse("GET", self.url_for(path), st, body=json.dumps(doc).encode())

    forbid = {"errorcode": 1097, "message": "Not authorized", "severity": "ERROR"}
    f = F({"authenticationsamlaction": (403, forbid)})
    rd = _Reader(f, nmap, NitroRead("https://nsip"))
    sp = asyncio.run(rd.role("saml_sp", nmap.roles["saml_sp"]))
    idp = asyncio.run(rd.role("saml_idp", nmap.roles["saml_idp"]))
    dtls = asyncio.run(rd.role("dtls", nmap.roles["dtls"]))
    assert sp[0] is Precondition.UNKNOWN and idp[0] is Precondition.NOT_MET and dtls[0] is Precondition.NOT_MET
    assert "authenticationsamlaction" in rd.out.forbidden
    # dtls is on by default: a vpn vserver that does not say -dtls OFF counts.
    f2 = F({"vpnvserver": (200, {"errorcode": 0, "vpnvserver": [{"name": "gw", "servicetype": "SSL"}]})})
    rd2 = _Reader(f2, nmap, NitroRead("https://nsip"))
    assert asyncio.run(rd2.role("dtls", nmap.roles["dtls"]))[0] is Precondition.MET
    assert asyncio.run(rd2.role("management", nmap.roles["management"]))[0] is Precondition.UNKNOWN
    assert asyncio.run(rd2.role("url_policy", nmap.roles["url_policy"]))[0] is Precondition.UNKNOWN


def test_lint_checks_nitro_coverage(tmp_path: Path) -> None:
    import shutil

    from nscheck.signatures import lint

    d = tmp_path / "sigs"
    shutil.copytree(signatures_dir(None), d)
    assert lint(d).ok
    text = (d / "nitro.yaml").read_text()
    (d / "nitro.yaml").write_text(text.replace("  l2_adjacent:", "  l2_adjacnt:").replace(
        "advisory: CTX697174", "advisory: CTX000001"))
    errs = [str(e) for e in lint(d).errors]
    assert any("neither a NITRO mapping nor not_decidable: l2_adjacent" in e for e in errs), errs
    assert any("'l2_adjacnt' is not in manifest.yaml" in e and "nitro.yaml:" in e for e in errs), errs
    assert any("no bulletin CTX000001" in e for e in errs), errs


def test_an_internal_error_is_a_scrubbed_per_host_note(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import nscheck.nitro.probe as probe_mod
    from nscheck.nitro import NitroContext, nitro_stage
    from nscheck.nitro.credentials import NitroAccess, NitroCredentials
    from nscheck.targets import parse_target

    async def boom(*a: object, **k: object) -> None:
        raise RuntimeError(f"exploded while sending X-NITRO-PASS: {PW}")

    monkeypatch.setattr(probe_mod, "read_appliance", boom)

    class Client:
        def nitro_fetcher(self, *a: object) -> SimpleNamespace:
            async def aclose() -> None:
                return None

            return SimpleNamespace(aclose=aclose)

    acc = NitroAccess("ro", Secret(PW), "test", "https://10.0.0.5", True)
    ctx = NitroContext(NitroCredentials(None, {"gw.example": acc}), load_nitro_map(signatures_dir(None)))
    t = next(iter(parse_target("https://gw.example")))
    read, skips = asyncio.run(nitro_stage(t, None, SimpleNamespace(plain_http=False, base_url=t.url), Client(),
                                          SimpleNamespace(host_deadline=5.0, nitro_budget=5), ctx))
    assert read is None and skips and "internal error" in skips[0].reason
    assert PW not in skips[0].reason and "***" in skips[0].reason
