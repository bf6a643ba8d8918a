"""NITRO on the lab's simulated appliances, with NetScaler's resource and field names and JSON
shapes, so the authenticated checks are tested over real sockets.

Shapes (NITRO REST reference, https://citrix-landing-page.readthedocs-hosted.com/projects/netscaler-nitro-api/en/12.0/performing-basic-netscaler-operations,
and the per-resource pages under https://developer-docs.netscaler.com/en-us/adc-nitro-api/):
``GET /nitro/v1/config/<resource>`` answers ``{"errorcode": 0, "message": "Done", "severity":
"NONE", "<resource>": [...]}`` (an object for singletons: nsversion, nshardware, nstcpparam;
no key when there are no objects); per-request authentication with ``X-NITRO-USER`` /
``X-NITRO-PASS``; a failed login is HTTP 401 with errorcode 354; an operation the command
policy does not allow is HTTP 403 with an ERROR envelope. systemfile is listed with
``?args=filelocation:<url-encoded dir>`` and gives filename, filelocation, filemode, filesize,
filemodifiedtime (systemfile reference page). Error codes other than 0/354 are lab values.

Profile option ``nitro`` (a dict; absent = defaults): ``disabled`` (NITRO not served here),
``password`` (the lab account's password on this box, to simulate wrong credentials), ``deny``
(resources the account may not read, e.g. ["systemfile"]), ``saml_sp`` / ``saml_idp`` (bools),
``platform`` (hwdescription), ``mitigation`` (["CTX697174"]), ``files`` ({dir: [names]}).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from nscheck.lab.http import Request, Response

__all__ = ["LAB_NITRO_PASSWORD", "LAB_NITRO_USER", "NitroSim"]

# The lab's own account; obviously not a real secret. Tests check it appears in no output.
LAB_NITRO_USER = "nscheck-ro"
LAB_NITRO_PASSWORD = "lab-NITRO-pw-4b7e19c2"

_API = "/nitro/v1/config/"


def _json(status: int, doc: dict[str, Any]) -> Response:
    body = json.dumps(doc).encode()
    return Response(status, [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-cache")], body)


def _err(status: int, code: int, message: str) -> Response:
    return _json(status, {"errorcode": code, "message": message, "severity": "ERROR"})


class NitroSim:
    def __init__(self, profile: Any, build: Any, edition: str | None):
        self.profile = profile
        opt = dict(profile.opt("nitro", {}) or {})
        self.opt = opt
        self.password = opt.get("password", LAB_NITRO_PASSWORD)
        self.deny = {str(x) for x in opt.get("deny", ())}
        self.resources = self._resources(build, edition)
        self.methods: list[str] = []

    @property
    def disabled(self) -> bool:
        return bool(self.opt.get("disabled"))

    def _resources(self, b: Any, edition: str | None) -> dict[str, Any]:
        roles = set(self.profile.roles)
        o = self.opt
        fips = edition in ("fips", "ndcpp") or bool(o.get("fips"))
        platform = o.get("platform") or ("NetScaler MPX 14030 FIPS" if fips else "NetScaler Virtual Appliance 450000")
        r: dict[str, Any] = {
            "nsversion": {"version": f"NetScaler NS{b.release}: Build {b.major}.{b.minor}.nc, Date: Jun  7 2025, "
                                     "10:22:30   (64-bit)", "mode": "1"},
            "nshardware": {"hwdescription": platform, "sysid": "450070" if not fips else "450087",
                           "manufactureday": 7, "manufacturemonth": 6, "manufactureyear": 2025,
                           "cpufrequncy": 2600, "hostid": 4284874754, "host": "6d3f0a2b",
                           "serialno": "LABSERIAL0001", "encodedserialno": "LABENCODED0001"},
            "nstcpparam": {"ws": "ENABLED", "sack": "ENABLED", "enhancedisngeneration": "DISABLED"},
        }
        vservers = []
        if "gateway" in roles:
            vservers.append({"name": "vs_gateway", "servicetype": "SSL", "ipv46": "192.0.2.10", "port": 443,
                             "curstate": "UP", "dtls": "ON"})
        if vservers:
            r["vpnvserver"] = vservers
        if "aaa" in roles:
            r["authenticationvserver"] = [{"name": "vs_aaa", "servicetype": "SSL", "ipv46": "192.0.2.11", "port": 443,
                                           "curstate": "UP"}]
        if o.get("saml_sp"):
            r["authenticationsamlaction"] = [{"name": "saml_sp_azure", "samlidpcertname": "idp_cert",
                                              "samlredirecturl": "https://login.example.org/saml2"}]
        if o.get("saml_idp"):
            r["authenticationsamlidpprofile"] = [{"name": "saml_idp_apps", "samlspcertname": "sp_cert",
                                                  "assertionconsumerserviceurl": "https://app.example.org/acs"}]
        r["lbvserver"] = [{"name": "lb_web", "servicetype": "HTTP", "ipv46": "192.0.2.20", "port": 80}]
        r["server"] = [{"name": "web1", "ipaddress": "10.0.0.21", "state": "ENABLED"}]
        if "CTX697174" in (o.get("mitigation") or ()):
            r["responderpolicy"] = [{"name": "block_saml_ctx697174", "rule": 'HTTP.REQ.URL.PATH.CONTAINS("/saml/")',
                                     "action": "DROP", "hits": 0}]
            r["responderglobal_responderpolicy_binding"] = [{"policyname": "block_saml_ctx697174", "priority": 100,
                                                             "gotopriorityexpression": "END", "type": "REQ_DEFAULT"}]
        files: dict[str, list[str]] = {k: list(v) for k, v in (o.get("files") or {}).items()}
        files.setdefault("/var/netscaler/logon/LogonPoint/", []).extend(["index.html", "tmindex.html"])
        shell = self.profile.opt("webshell_path", "/logon/LogonPoint/index.php")
        if self.profile.opt("compromised") and shell.startswith("/logon/"):
            d, _, name = ("/var/netscaler" + shell).rpartition("/")
            files.setdefault(d + "/", []).append(name)
        self.files = files
        return r

    async def respond(self, req: Request) -> Response:
        self.methods.append(req.method)
        if req.method not in ("GET", "HEAD"):
            return _err(405, 1, "Method not allowed in the lab")
        user = req.header("x-nitro-user")
        pw = req.header("x-nitro-pass")
        if user != LAB_NITRO_USER or pw != self.password:
            return _err(401, 354, "Invalid username or password")
        if not req.path.startswith(_API):
            return _err(404, 2, "Invalid URL")
        resource = unquote(req.path[len(_API):]).strip("/").split("/")[0].lower()
        if resource in self.deny:
            return _err(403, 1097, "Not authorized to execute this command [show " + resource + "]")
        if resource == "systemfile":
            return self._systemfile(req.query)
        doc: dict[str, Any] = {"errorcode": 0, "message": "Done", "severity": "NONE"}
        if resource in self.resources:
            doc[resource] = self.resources[resource]
        return _json(200, doc)

    def _systemfile(self, query: str) -> Response:
        loc = ""
        for part in query.split("&"):
            k, _, v = part.partition("=")
            if k == "args":
                for arg in unquote(v).split(","):
                    name, _, val = arg.partition(":")
                    if name == "filelocation":
                        loc = val
        if not loc:
            return _err(400, 1092, "Argument filelocation is required")
        d = loc if loc.endswith("/") else loc + "/"
        if d not in self.files:
            return _err(404, 3441, "No such file or directory")
        items = [{"filename": n, "filelocation": d.rstrip("/"), "filemode": ["-rw-r--r--"], "filesize": 4096,
                  "filemodifiedtime": "Tue Jun 10 03:12:44 2025"} for n in self.files[d]]
        return _json(200, {"errorcode": 0, "message": "Done", "severity": "NONE", "systemfile": items})
