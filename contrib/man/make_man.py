#!/usr/bin/env python3
"""crimpd(8), crimpctl(1), crimpd.json(5) and crimpctl's bash completion,
written from one source: the option tables the programs print with --help
(shim/config.c, backends/common/options.c, cli/crimpctl.c).  Nothing here
restates an option by hand, so a new option reaches the manuals by running

    contrib/man/make_man.py BUILD_DIR            # rewrite contrib/man/*
    contrib/man/make_man.py BUILD_DIR --check    # exit 1 if they are stale

ctest's docs.man_in_sync runs the check."""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATE = "2026-12"


def help_of(build, prog):
    path = os.path.join(build, prog)
    out = subprocess.run([path, "--help"], capture_output=True, text=True, check=True).stdout
    return out.replace(path, os.path.basename(path))


def esc(text):
    """Text for a troff line: backslashes and leading dots or quotes."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return ("\\&" + text) if text[:1] in (".", "'") else text


def parse_crimpd(text):
    """(options, backend_options): [(flag, arg, help)], [(key, types, help)]."""
    opts, bopts, cur, section = [], [], None, "opts"
    for line in text.splitlines():
        if line.startswith("Backend options"):
            section = "backend"
            continue
        if section == "opts":
            m = re.match(r"  (--[a-z-]+)(?: (\S+))?\s*(.*)$", line)
            if m:
                cur = [m.group(1), m.group(2) or "", m.group(3).strip()]
                opts.append(cur)
            elif cur and line.startswith("    ") and line.strip():
                cur[2] = (cur[2] + " " + line.strip()).strip()
            elif not line.strip():
                cur = None
        else:
            m = re.match(r"  (\S.*?)\s+\[([^\]]+)\] (.*)$", line)
            if m:
                bopts.append((m.group(1).rstrip(","), m.group(2), m.group(3)))
            elif bopts and line.startswith("  ") and line.strip() and "[" not in line:
                k, t, h = bopts[-1]
                bopts[-1] = (k + ", " + line.strip(), t, h)
    return opts, bopts


def parse_crimpctl(text):
    opts, cmds, section, cur = [], [], None, None
    for line in text.splitlines():
        if line.startswith("Options:"):
            section = "opts"
            continue
        if line.startswith("Commands:"):
            section = "cmds"
            continue
        if section == "opts":
            m = re.match(r"  (-\w, )?(--[a-z-]+)(?: (\S+))?\s+(.*)$", line)
            if m:
                cur = [(m.group(1) or "").strip(", "), m.group(2), m.group(3) or "", m.group(4)]
                opts.append(cur)
            elif cur and line.startswith("      ") and line.strip():
                cur[3] += " " + line.strip()
        elif section == "cmds":
            m = re.match(r"  (\w+)\s+(.*)$", line)
            if m:
                cmds.append((m.group(1), m.group(2)))
    return opts, cmds


def header(name, section, title):
    return [f'.TH {name.upper()} {section} "{DATE}" "crimp" "{title}"']


def crimpd_8(opts, bopts):
    out = header("crimpd", 8, "System Administration")
    out += [".SH NAME", "crimpd \\- the CRI multiplexing proxy",
            ".SH SYNOPSIS", ".B crimpd", "[\\fIOPTION\\fR]...",
            ".SH DESCRIPTION",
            "crimpd serves the Kubernetes Container Runtime Interface (CRI v1) to kubelet on a "
            "unix socket and carries each call to a backend runtime: Docker (the Engine API), "
            "containerd (its native API) or any CRI endpoint. New pods go to the default "
            "backend; calls about a pod or container go to the backend that owns it; lists "
            "are merged. The default backend can be switched while kubelet runs "
            "(\\fBcrimpctl backend set\\fR), which makes a node's move from Docker to "
            "containerd gradual. Every call is timed per method and backend.",
            ".SH OPTIONS",
            "Flags override the configuration file (see \\fBcrimpd.json\\fR(5)).", ""]
    for flag, arg, text in opts:
        out += [".TP", f".B {esc(flag)}" + (f" \\fI{esc(arg)}\\fR" if arg else ""), esc(text)]
    out += [".SH BACKEND OPTIONS",
            "Given in a backend's \\fBoptions\\fR object of the configuration file; the types "
            "that take each are in brackets.", ""]
    for key, types, text in bopts:
        out += [".TP", f".B {esc(key)}", f"[{esc(types)}] {esc(text)}"]
    out += [".SH SIGNALS", ".TP", ".B SIGTERM, SIGINT",
            "Stop taking calls, let those in flight finish (\\-\\-drain\\-timeout), exit.",
            ".TP", ".B SIGHUP",
            "Read the command line and configuration file again: backends are added or "
            "retired, the log settings applied; a configuration that does not validate "
            "changes nothing.",
            ".SH FILES", ".TP", ".I /etc/crimp/crimpd.json", "The configuration file.",
            ".TP", ".I /run/crimp/crimp.sock", "The CRI socket kubelet uses.",
            ".TP", ".I /run/crimp/admin.sock",
            "The admin API: /metrics, /v1/latency, /v1/calls, /v1/backends, /v1/pulls.",
            ".SH SEE ALSO", "\\fBcrimpctl\\fR(1), \\fBcrimpd.json\\fR(5), \\fBkubelet\\fR(8)"]
    return "\n".join(out) + "\n"


def crimpctl_1(opts, cmds):
    out = header("crimpctl", 1, "User Commands")
    out += [".SH NAME", "crimpctl \\- talk CRI to crimpd, and drive its cutover",
            ".SH SYNOPSIS", ".B crimpctl", "[\\fIOPTION\\fR]... \\fICOMMAND\\fR [\\fIARG\\fR]...",
            ".SH DESCRIPTION",
            "crimpctl asks crimpd (or any CRI endpoint) what kubelet would, and uses crimpd's "
            "admin socket for what CRI has no call for: switching the default backend, the "
            "latency recorder, the live call trace, pull progress.",
            ".SH OPTIONS"]
    for short, flag, arg, text in opts:
        name = (f"{esc(short)}, " if short else "") + esc(flag)
        out += [".TP", f".B {name}" + (f" \\fI{esc(arg)}\\fR" if arg else ""), esc(text)]
    out += [".SH COMMANDS"]
    for name, text in cmds:
        out += [".TP", f".B {name}", esc(text)]
    out += [".SH SEE ALSO", "\\fBcrimpd\\fR(8), \\fBcrictl\\fR(1)"]
    return "\n".join(out) + "\n"


def crimpd_json_5(opts, bopts):
    out = header("crimpd.json", 5, "File Formats")
    out += [".SH NAME", "crimpd.json \\- crimpd's configuration file",
            ".SH DESCRIPTION",
            "A JSON object. Its keys are crimpd's long options with '_' for '-' (below), plus "
            "\\fBbackends\\fR, a list of objects with \\fBname\\fR, \\fBtype\\fR (docker, "
            "containerd or cri), \\fBendpoint\\fR and \\fBoptions\\fR. A line whose first "
            "non-blank character is # is a comment. Flags given to crimpd override the file; "
            "\\fBcrimpd \\-\\-print\\-config\\fR prints the result with every default. A key or "
            "value that does not validate is refused at start, and on SIGHUP the running "
            "configuration is kept.",
            ".SH KEYS"]
    for flag, arg, text in opts:
        key = flag[2:].replace("-", "_")
        if key in ("config", "backend", "print_config", "help", "version"):
            continue
        out += [".TP", f".B {esc(key)}", esc(text)]
    out += [".SH BACKEND OPTIONS"]
    for key, types, text in bopts:
        out += [".TP", f".B {esc(key)}", f"[{esc(types)}] {esc(text)}"]
    out += [".SH EXAMPLE", ".nf",
            '{"default_backend": "docker",',
            ' "backends": [',
            '  {"name": "docker", "type": "docker", "endpoint": "unix:///var/run/docker.sock",',
            '   "options": {"cni_conf_dir": "/etc/cni/net.d"}},',
            '  {"name": "containerd", "type": "cri",',
            '   "endpoint": "unix:///run/containerd/containerd.sock"}]}',
            ".fi", ".SH SEE ALSO", "\\fBcrimpd\\fR(8)"]
    return "\n".join(out) + "\n"


def completion(opts, cmds):
    flags = " ".join(sorted({f for _, f, _, _ in opts} | {s for s, _, _, _ in opts if s}))
    names = " ".join(n for n, _ in cmds)
    return f"""# bash completion for crimpctl (written by contrib/man/make_man.py)
_crimpctl()
{{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
    case $prev in
    -o | --output) COMPREPLY=($(compgen -W "table json yaml" -- "$cur")); return ;;
    -a | --admin-socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    backend) COMPREPLY=($(compgen -W "list set drain undrain" -- "$cur")); return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "{flags}" -- "$cur"))
    else
        local w
        for w in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
            case " {names} " in *" $w "*) return ;; esac
        done
        COMPREPLY=($(compgen -W "{names}" -- "$cur"))
    fi
}}
complete -F _crimpctl crimpctl
"""


def outputs(build):
    dopts, bopts = parse_crimpd(help_of(build, "shim/crimpd"))
    copts, cmds = parse_crimpctl(help_of(build, "cli/crimpctl"))
    return {"crimpd.8": crimpd_8(dopts, bopts), "crimpctl.1": crimpctl_1(copts, cmds),
            "crimpd.json.5": crimpd_json_5(dopts, bopts),
            "crimpctl.bash-completion": completion(copts, cmds)}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    check = "--check" in sys.argv[2:]
    stale = []
    for name, text in outputs(sys.argv[1]).items():
        path = os.path.join(HERE, name)
        old = open(path).read() if os.path.exists(path) else None
        if old == text:
            continue
        if check:
            stale.append(name)
        else:
            with open(path, "w") as f:
                f.write(text)
    if stale:
        sys.exit(f"stale (run contrib/man/make_man.py BUILD_DIR): {', '.join(stale)}")


if __name__ == "__main__":
    main()
