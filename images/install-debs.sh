#!/bin/sh
# Install the host-downloaded .debs of an image offline, and collect what that added as a tree to copy onto the base.
# Runs inside the build stage of a Dockerfile (as root); images/build.sh stages it as CTX/install-debs.sh next to
# CTX/debs/ (the packages scripts/debs.sh computed against the same base image).
#
#   sh /install-debs.sh install /debs [EXCLUDES]   # dpkg excludes (docs, man, locales + the image's own EXCLUDES
#                                                  # file of path-exclude= lines), then apt-get install /debs/*.deb
#   ... image-specific RUN steps (users, dirs, removals) ...
#   sh /install-debs.sh delta /delta         # every file created or changed since `install` began -> /delta
#
# The final stage is `FROM base` + `COPY --from=build /delta/ /`: one layer with exactly the installed files, the
# .debs never reach it. "Changed" = inode change time (ctime) newer than a marker written before dpkg ran: dpkg
# sets it on every file it unpacks, and edits (/etc/passwd, /var/lib/dpkg/status) set it too. Files of the base that
# a later step deletes stay in the base layer (delete nothing the base has; nothing here does).
set -eu
MARKER=/var/lib/mlops-kit-install.marker

case "${1:-}" in
install)
  DEBS="${2:?usage: install-debs.sh install DEBS_DIR [EXCLUDES_FILE]}"
  : >"$MARKER"
  # Maintainer scripts must not start services in the build (removed again below; never in the delta).
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 0755 /usr/sbin/policy-rc.d
  # Never unpack documentation, man pages or translations (copyright files stay, for the licences).
  cat >/etc/dpkg/dpkg.cfg.d/mlops-kit-slim <<'EOF'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/lintian/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
EOF
  # The image's own: files of its packages it never uses (kept out with dpkg's own mechanism, so the package
  # database stays consistent: `apt-get check` passes; `dpkg --verify` lists them as missing).
  if [ -n "${3:-}" ]; then cp "$3" /etc/dpkg/dpkg.cfg.d/mlops-kit-image; fi
  # No network, no lists: apt resolves among the base's installed packages and the given files only.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confold -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=/dev/null \
    "$DEBS"/*.deb
  rm -f /usr/sbin/policy-rc.d
  rm -rf /var/cache/apt/*.bin /var/cache/apt/archives/partial /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log \
    /var/cache/debconf/*-old /var/lib/dpkg/*-old /var/cache/ldconfig/aux-cache
  ;;
delta)
  OUT="${2:?usage: install-debs.sh delta OUT_DIR}"
  [ -f "$MARKER" ] || { echo "install-debs.sh: run 'install' first" >&2; exit 1; }
  mkdir -p "$OUT"
  # One filesystem (the container's root), minus what the build itself mounts or stages.
  find / -xdev -mindepth 1 \
    \( -path "$OUT" -o -path /debs -o -path /install-debs.sh -o -path /tmp -o -path /var/tmp -o -path /root \
    -o -path /etc/hosts -o -path /etc/hostname -o -path /etc/resolv.conf -o -path /var/cache/apt \
    -o -path /var/log -o -path "$MARKER" \) -prune -o -cnewer "$MARKER" -print0 |
    tar --null --no-recursion --numeric-owner -T - -cf - | tar --numeric-owner -xpf - -C "$OUT"
  # Guard: the base's own files must not be in the delta (a storage driver that copies whole trees would do that).
  if [ -e "$OUT/usr/bin/python3.11" ] || [ -e "$OUT/usr/bin/dpkg" ]; then
    echo "install-debs.sh: the delta holds base files (ctime not preserved by this storage driver?)" >&2
    exit 1
  fi
  echo "install-debs.sh: delta $(du -sh "$OUT" | cut -f1), $(find "$OUT" -type f | wc -l) files" >&2
  ;;
*)
  echo "usage: install-debs.sh install DEBS_DIR | delta OUT_DIR" >&2
  exit 2
  ;;
esac
