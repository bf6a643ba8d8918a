// nscheck webshell rules for NetScaler web roots and staging directories.
// Written for nscheck from published indicator strings (NCSC-NL citrix-2025, Mandiant CVE-2023-3519
// scanner, Fox-IT iocitrix, orjanj 2026 lists, easy_triage); no third-party rule text copied.
// Meta confidence_level follows NCSC-NL's convention (high / medium / low).

rule NSCHECK_PHP_Eval_Request_Input {
    meta:
        description = "PHP evaluates or executes request input directly"
        confidence_level = "high"
    strings:
        $php = "<?" ascii
        $a = /(eval|assert|system|passthru|shell_exec|popen|proc_open)\s*\(\s*(@\s*)?(base64_decode\s*\(\s*|gzinflate\s*\(\s*|str_rot13\s*\(\s*|stripslashes\s*\(\s*)*\$_(GET|POST|REQUEST|COOKIE|SERVER)/ nocase
        $b = /\$_(GET|POST|REQUEST|COOKIE)\s*\[[^\]]{1,40}\]\s*\(\s*\$_(GET|POST|REQUEST|COOKIE)/ nocase
    condition:
        $php and any of ($a, $b)
}

rule NSCHECK_PHP_Obfuscated_Loader {
    meta:
        description = "PHP decodes and evaluates an embedded payload"
        confidence_level = "high"
    strings:
        $php = "<?" ascii
        $e1 = /eval\s*\(\s*(gzinflate|gzuncompress|gzdecode|str_rot13|base64_decode)\s*\(/ nocase
        $e2 = /preg_replace\s*\(\s*['"][^'"]{1,80}\/e['"]/ nocase
        $e3 = /create_function\s*\([^)]{0,80}base64_decode/ nocase
    condition:
        $php and any of ($e*)
}

rule NSCHECK_NetScaler_2026_Webshell_Markers {
    meta:
        description = "Header names and keys used by the 2026 NetScaler webshells (.ctxs.receiver, nsg*.deb)"
        confidence_level = "high"
    strings:
        $h1 = "HTTP_X_UX" ascii
        $k1 = "e826d7ddf3c85920" ascii
        $k2 = "7489a0f93c67fa5cdaeb4b921d90594d" ascii
        $k3 = "Rhfajaf1H992" ascii
        $php = "<?php" ascii nocase
    condition:
        any of ($k*) or ($h1 and $php)
}

rule NSCHECK_Tunneller_ReGeorg_Neo {
    meta:
        description = "reGeorg-Neo tunneller (CVE-2023-3519 intrusions)"
        confidence_level = "high"
    strings:
        $a = "blv_encode" ascii
        $b = "Expires: Wed, 11 Jan 1984 05:00:00" ascii
    condition:
        any of them
}

rule NSCHECK_PHP_Upload_Dropper {
    meta:
        description = "PHP writes a request-supplied file to disk"
        confidence_level = "medium"
    strings:
        $php = "<?" ascii
        $a = /file_put_contents\s*\([^;]{0,120}\$_(GET|POST|REQUEST|FILES|COOKIE)/ nocase
        $b = /move_uploaded_file\s*\(\s*\$_FILES/ nocase
        $c = /fwrite\s*\([^;]{0,80}base64_decode\s*\(\s*\$_(GET|POST|REQUEST)/ nocase
    condition:
        $php and any of ($a, $b, $c)
}
