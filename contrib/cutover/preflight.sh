#!/bin/bash
# Checks that crimp backend TARGET can take the node's new pods before
# `crimpctl backend set TARGET`: it asks TARGET itself, never the current
# default.  Changes nothing; exits 1 listing every check that failed.
#
#   preflight.sh TARGET [IMAGE...]
#
# Checks:
#   - TARGET is configured in crimpd and up;
#   - TARGET's own runtime reports RuntimeReady and NetworkReady;
#   - for a `cri` backend on containerd: the CRI plugin is enabled (it
#     answers CRI, and `ctr plugins ls` shows io.containerd.grpc.v1 cri ok);
#   - TARGET's cgroup driver is kubelet's (cgroupDriver in KUBELET_CONFIG);
#   - every image the node's containers run (as crimp lists them), the
#     pause image TARGET uses, and each IMAGE given, are present in TARGET.
#
# Environment: CRIMPCTL (crimpctl), CRICTL (crictl), CTR (ctr),
# CRIMP_ENDPOINT (unix:///run/crimp/crimp.sock),
# KUBELET_CONFIG (/var/lib/kubelet/config.yaml).
set -uo pipefail
CRIMPCTL=${CRIMPCTL:-crimpctl}
CRICTL=${CRICTL:-crictl}
CTR=${CTR:-ctr}
export CRIMP_ENDPOINT=${CRIMP_ENDPOINT:-unix:///run/crimp/crimp.sock}
KUBELET_CONFIG=${KUBELET_CONFIG:-/var/lib/kubelet/config.yaml}
target=${1:?usage: preflight.sh TARGET [IMAGE...]}
shift
failed=0

say() { printf 'preflight: %s\n' "$*"; }
ok() { say "ok    $*"; }
bad() { say "FAIL  $*"; failed=1; }
json_get() { # EXPR: a Python expression on `d` (stdin's JSON)
    python3 -c 'import json,sys; d=json.load(sys.stdin); v='"$1"'; print(v if isinstance(v,str) else json.dumps(v))'
}

list=$("$CRIMPCTL" --json backend list) || { bad "crimpd does not answer on $CRIMP_ENDPOINT"; exit 1; }
entry=$(json_get "([b for b in d['backends'] if b['name']=='$target'] or [None])[0]" <<<"$list")
[ "$entry" != null ] || { bad "crimpd has no backend named $target"; exit 1; }
type=$(json_get "d['type']" <<<"$entry")
endpoint=$(json_get "d['endpoint']" <<<"$entry")
[ "$(json_get "d['up']" <<<"$entry")" = true ] && ok "$target ($type at $endpoint) is up" ||
    bad "$target ($type at $endpoint) is down"

kubelet_driver=cgroupfs # KubeletConfiguration's default
if [ -r "$KUBELET_CONFIG" ]; then
    d=$(sed -n 's/^cgroupDriver: *\([a-z]*\).*/\1/p' "$KUBELET_CONFIG")
    [ -n "$d" ] && kubelet_driver=$d
else
    say "note  $KUBELET_CONFIG not readable: taking kubelet's default cgroup driver (cgroupfs)"
fi

case "$type" in
cri)
    crictl_t() { "$CRICTL" --runtime-endpoint "$endpoint" --image-endpoint "$endpoint" "$@"; }
    if ! version=$(crictl_t version 2>&1); then
        bad "$endpoint does not answer CRI: $version"
        exit 1
    fi
    name=$(sed -n 's/^RuntimeName: *//p' <<<"$version")
    ok "$endpoint serves CRI ($name $(sed -n 's/^RuntimeVersion: *//p' <<<"$version"))"
    info=$(crictl_t info 2>/dev/null) || info='{}'
    for cond in RuntimeReady NetworkReady; do
        st=$(json_get "[c for c in d.get('status',{}).get('conditions',[]) if c['type']=='$cond'][0]['status']" <<<"$info" 2>/dev/null)
        [ "$st" = True ] || [ "$st" = true ] && ok "$target: $cond" || bad "$target: $cond is not true (crictl info)"
    done
    if [ "$name" = containerd ]; then
        sock=${endpoint#unix://}
        if command -v "$CTR" >/dev/null; then
            "$CTR" --address "$sock" plugins ls 2>/dev/null | grep -Eq '^io\.containerd\.grpc\.v1 +cri +.* ok *$' &&
                ok "containerd's CRI plugin is enabled" ||
                bad "containerd's CRI plugin is not loaded (disabled_plugins in /etc/containerd/config.toml?)"
        fi
        systemd=$(json_get "[r.get('options',{}).get('SystemdCgroup', False) for n,r in d['config']['containerd']['runtimes'].items() if n==d['config']['containerd'].get('defaultRuntimeName','runc')][0]" <<<"$info" 2>/dev/null)
        driver=$([ "$systemd" = true ] && echo systemd || echo cgroupfs)
    else
        driver=$(json_get "d.get('config',{}).get('cgroupDriver') or d.get('cgroupDriver') or ''" <<<"$info" 2>/dev/null)
    fi
    sandbox_image=$(json_get "d.get('config',{}).get('sandboxImage','')" <<<"$info" 2>/dev/null)
    image_present() { crictl_t inspecti "$1" >/dev/null 2>&1; }
    ;;
docker)
    docker_t() { docker -H "$endpoint" "$@"; }
    docker_t info >/dev/null 2>&1 && ok "dockerd at $endpoint answers" || bad "dockerd at $endpoint does not answer"
    driver=$(docker_t info -f '{{.CgroupDriver}}' 2>/dev/null)
    sandbox_image=
    image_present() { docker_t image inspect "$1" >/dev/null 2>&1; }
    ;;
*)
    say "note  no runtime checks for a $type backend"
    driver=
    image_present() { true; }
    ;;
esac

if [ -n "${driver:-}" ]; then
    [ "$driver" = "$kubelet_driver" ] && ok "cgroup driver $driver, as kubelet's" ||
        bad "cgroup driver: $target uses $driver, kubelet $kubelet_driver"
fi

images=$("$CRICTL" --runtime-endpoint "$CRIMP_ENDPOINT" ps -a -o json 2>/dev/null |
    json_get "'\n'.join(sorted({c['image']['image'] for c in d.get('containers',[])}))")
for image in $images ${sandbox_image:-} "$@"; do
    image_present "$image" && ok "image $image is in $target" ||
        bad "image $image is missing in $target (pull it there first)"
done

[ "$failed" = 0 ] && say "passed: $target can take the node's new pods" || say "failed"
exit "$failed"
