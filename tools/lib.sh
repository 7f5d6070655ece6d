# Shared helpers for the tools/ scripts. Sourced, not executed.
set -euo pipefail

PGEXPORT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# PostgreSQL's server binaries (initdb, pg_ctl, postgres) live outside PATH on Debian.
pg_bindir() {
    local d
    for d in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/15/bin; do
        [ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return; }
    done
    die "PostgreSQL 15 server binaries not found (is postgresql-15 installed? run tools/build)"
}

# Runs a command as the cluster's owner: initdb and postgres refuse to run as root.
as_pg_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_superuser() {
    if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi
}
