#!/bin/bash
# Entrypoint of mlops-kit/postgres: the contract of the upstream postgres image that the manifests rely on.
#
#   POSTGRES_PASSWORD  superuser password (required unless POSTGRES_HOST_AUTH_METHOD=trust)
#   POSTGRES_USER      superuser name (default postgres)
#   POSTGRES_DB        database created at first start (default: $POSTGRES_USER)
#   PGDATA             data directory (default /var/lib/postgresql/data; may be a subdirectory of the volume)
#   POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default scram-sha-256)
#   /docker-entrypoint-initdb.d/*.sql|*.sh  run once, after initdb, against $POSTGRES_DB
#
# An empty (or missing) $PGDATA gets initdb + the user/database/password; an initialised one is used as it is (the
# environment is then ignored, as upstream). The server listens on 0.0.0.0:5432 (password auth, scram-sha-256)
# and on the socket in /var/run/postgresql (trust, local to the container). `docker-entrypoint.sh -c x=y` and
# `docker-entrypoint.sh postgres ...` pass arguments to the server; any other command (psql, pg_isready, bash) runs
# as given.
set -Eeuo pipefail

log() { echo "[entrypoint] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ "${1:-}" == -* ]]; then set -- postgres "$@"; fi
[[ "${1:-}" == postgres ]] || exec "$@"

[[ "$(id -u)" != 0 ]] || die "runs as a non-root user (the image's default is 10001); do not pass --user root"
getent passwd "$(id -u)" >/dev/null ||
  die "uid $(id -u) has no /etc/passwd entry (initdb needs one); run as 10001, the image's user"

export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
AUTH="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
SOCKETS=/var/run/postgresql

[[ -w "$SOCKETS" ]] || die "$SOCKETS is not writable by uid $(id -u): mount a tmpfs/emptyDir there (docker: --tmpfs $SOCKETS:uid=$(id -u),gid=$(id -g))"

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  if [[ -z "${POSTGRES_PASSWORD:-}" && "$AUTH" != trust ]]; then
    die "the data directory is empty and POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)"
  fi
  mkdir -p "$PGDATA" 2>/dev/null || die "cannot create $PGDATA: mount a volume writable by uid $(id -u) on it or its parent"
  chmod 0700 "$PGDATA" 2>/dev/null || true
  log "initialising $PGDATA (superuser $POSTGRES_USER, database $POSTGRES_DB)"
  pwfile=()
  [[ -n "${POSTGRES_PASSWORD:-}" ]] && pwfile=(--pwfile=/dev/stdin) # the password never touches a file
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a word list, as upstream
  initdb --username="$POSTGRES_USER" "${pwfile[@]}" --auth-local=trust --auth-host="$AUTH" \
    --encoding=UTF8 --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-} <<<"${POSTGRES_PASSWORD:-}" >&2
  printf '\n# mlops-kit/postgres entrypoint\nhost all all all %s\n' "$AUTH" >>"$PGDATA/pg_hba.conf"
  printf "\n# mlops-kit/postgres entrypoint\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

  # A private server (socket only, no TCP) for the database and the init scripts.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=$SOCKETS" -w start >&2
  psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --host "$SOCKETS")
  if [[ "$POSTGRES_DB" != postgres ]]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";' >&2
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    [[ -e "$f" ]] || continue
    case "$f" in
    *.sh)
      log "running $f"
      # shellcheck source=/dev/null # the image user's init scripts, sourced as upstream does
      . "$f"
      ;;
    *.sql) log "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" >&2 ;;
    *) log "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >&2
  log "initialised; starting the server"
fi

exec "$@"
