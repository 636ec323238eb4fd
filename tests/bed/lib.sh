# Shared helpers of the test bed scripts (sourced, not run).

bed_log() { echo "bed: $*" >&2; }
bed_die() { echo "bed: error: $*" >&2; exit 1; }

# Waits up to $2 seconds for the unix socket $1 to accept connections.
bed_wait_socket() {
    local sock=$1 secs=${2:-30} i
    for ((i = 0; i < secs * 10; i++)); do
        if [ -S "$sock" ] && python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])" "$sock" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Waits up to $2 seconds for an HTTP URL to answer.
bed_wait_http() {
    local url=$1 secs=${2:-30} i
    for ((i = 0; i < secs * 10; i++)); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Stops the process whose pid is in file $1: TERM, then KILL after $2 s.
bed_stop_pidfile() {
    local file=$1 secs=${2:-15} pid i
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < secs * 10; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$file"
}

# What must be the same before the bed starts and after it stops: container
# shims, mounts, network namespaces, links (bridges, veths).
# The first `ip netns add` on a machine creates /run/netns and bind-mounts
# it onto itself, and nothing ever takes that away: that mount alone, with
# no netns left in it, is the machine's, not a leak (a netns left in it is
# one, and shows under "# netns" and as its own mount).
bed_snapshot() {
    echo "# processes"
    # A zombie ("<defunct>": a shim that exited after its containerd, not
    # yet reaped by init) holds nothing but its PID: not a leak of the run.
    { pgrep -a -f 'containerd-shim|dockerd|docker-registry|crimpd' || true; } |
        { grep -v '<defunct>' || true; } | awk '{ $1=""; print }' | sort
    echo "# mounts"
    local netns_dir_empty=0
    [ -z "$(ls -A /run/netns 2>/dev/null)" ] && netns_dir_empty=1
    awk '{ print $2 }' /proc/mounts | { grep -E '/run/(netns|containerd|docker)|overlay|/crimp' || true; } |
        awk -v empty=$netns_dir_empty '!(empty && $0 == "/run/netns")' | sort
    echo "# netns"
    { ls /run/netns 2>/dev/null || true; } | sort
    echo "# links"
    ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort
}
