"""live: NCSC-NL's live-host checks (v1.8.2) applied to the collected tree.

Each rule names a ``test``: ``exists`` (a file that should not be there), ``setuid_file``,
``root_suid`` (root-owned SUID under /var: setuid+other-exec, or setuid+group-exec with group
nobody), ``content`` (strings/regexes, like grep), ``httpd_php_handlers`` (extensions other than
.php/.phps given to the PHP handler, and files under /var/netscaler that carry them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from nscheck.signatures.triage import Rule
from nscheck.triage.checks.base import Family, Hit, default_select, escape, match_text, register
from nscheck.triage.context import Context
from nscheck.triage.sources import Entry

GID_NOBODY = 65534  # FreeBSD
_EXT = re.compile(r"\.[A-Za-z0-9]+")
MAX_EXT_FILES = 50


@register
@dataclass
class Live(Family):
    name: str = "live"
    needs_content: bool = True

    def select(self, rule: Rule, entry: Entry) -> bool:
        if rule.test == "exists":
            return entry.kind == "file" and default_select(rule, entry)  # NCSC: find -type f
        if rule.test in ("setuid_file", "root_suid"):
            return entry.kind == "file" and default_select(rule, entry)
        if rule.test == "httpd_php_handlers" and entry.kind == "file" and entry.path.startswith("/var/netscaler/"):
            # remember extensions of web files: the handler list may come later in the stream
            self._note_ext(entry)
        return entry.kind == "file" and default_select(rule, entry)

    def _note_ext(self, entry: Entry) -> None:
        base = entry.path.rsplit("/", 1)[-1]
        if "." not in base:
            return
        ext = "." + base.rsplit(".", 1)[-1].lower()
        per = self.state.setdefault("ext_files", {})
        if ext not in per and len(per) >= 500:
            return
        lst = per.setdefault(ext, [])
        if len(lst) < MAX_EXT_FILES:
            lst.append(entry.path)

    def meta(self, ctx: Context, rule: Rule, entry: Entry) -> Iterable[Hit]:
        ctx.stat(self.name, "checked")
        if rule.test == "exists":
            yield Hit(rule, entry.path, f"present ({entry.size} bytes)")
        elif rule.test == "setuid_file":
            if entry.mode is None:
                ctx.stat(self.name, "mode_unknown")
            elif entry.mode & 0o4000:
                yield Hit(rule, entry.path, f"setuid (mode {entry.mode:04o}, owner uid {entry.uid})")
        elif rule.test == "root_suid":
            if entry.mode is None or entry.uid is None:
                ctx.stat(self.name, "mode_unknown")
                return
            m = entry.mode
            if entry.uid == 0 and ((m & 0o4001) == 0o4001 or ((m & 0o4010) == 0o4010 and entry.gid == GID_NOBODY)):
                yield Hit(rule, entry.path, f"root-owned setuid file, mode {m:04o}, gid {entry.gid}")

    def content(self, ctx: Context, rule: Rule, entry: Entry, data: bytes, text: str) -> Iterable[Hit]:
        if rule.test == "content":
            for line_no, line, _m in match_text(rule, text):
                yield Hit(rule, entry.path, escape(line), line_no)
        elif rule.test == "httpd_php_handlers":
            found = ctx.state.setdefault("php_exts", {})
            for no, raw in enumerate(text.splitlines(), 1):
                line = raw.strip()
                if line.startswith("#") or not any(rx.search(line) for rx in rule.regexes):
                    continue
                extra = [e for e in _EXT.findall(line.split("php", 1)[-1]) if not any(a.search(e) for a in rule.allowlist)]
                if extra:
                    for e in extra:
                        found.setdefault(e.lower(), (entry.path, no))
                    yield Hit(rule, entry.path, f"PHP handler also runs {', '.join(extra)}: {escape(line)}", no)

    def finish(self, ctx: Context, rule: Rule) -> Iterable[Hit]:
        if rule.test != "httpd_php_handlers":
            return
        per = self.state.get("ext_files", {})
        for ext, (conf, no) in ctx.state.get("php_exts", {}).items():
            for path in per.get(ext, []):
                yield Hit(rule, path, f"file with extension {ext}, which {conf}:{no} hands to the PHP handler")
