# shellcheck shell=bash
#
# The end-to-end test environment: a local OCI registry seeded with base
# images, and a pinned buildkitd that pulls docker.io images from it.
# hack/env and hack/test source this file; it only defines functions and a
# few variables.
#
#   slipway_env_up      installs what is missing, builds the tools, seeds the
#                       registry, starts buildkitd and exports the variables
#                       below into the calling shell
#   slipway_env_down    stops both processes and removes the temp dir; safe
#                       to call twice, never fails
#   slipway_env_print_exports   prints `export NAME=VALUE` lines
#
# Exported by slipway_env_up:
#   BUILDKIT_HOST                  unix://$SLIPWAY_TEST_DIR/buildkitd.sock
#   SLIPWAY_TEST_REGISTRY          127.0.0.1:PORT, also docker.io's mirror
#   SLIPWAY_E2E                    1
#   SLIPWAY_TEST_BUILDKITD         the pinned buildkitd binary
#   SLIPWAY_TEST_BUILDCTL          the matching buildctl binary
#   SLIPWAY_TEST_BUILDKITD_CONFIG  the daemon's buildkitd.toml
#   SLIPWAY_TEST_DIR               the temp dir holding all of the above
#
# Needs root and a Debian 12 machine with Go. Lasting state lives in
# SLIPWAY_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/slipway-test):
# bin/ has the built tools, images/ the root file systems (debootstrap runs
# once), logs/ the setup logs. Delete a file there to rebuild it.

SLIPWAY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SLIPWAY_CACHE=${SLIPWAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/slipway-test}

# Bump to rebuild the cached root file systems after changing their recipe.
SLIPWAY_ENV_IMAGE_RECIPE=2
SLIPWAY_ENV_SUITE=bookworm
SLIPWAY_ENV_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Every program a test runs comes from one of these: runc, umoci, tar and
# redis-cli (examples/redis), git (driver's git contexts), ssh-agent from
# openssh-client (driver's ssh forwarding), dot from graphviz (dsl2llb's
# --format dot), gcc and libc6-dev (go test -race needs cgo).
SLIPWAY_ENV_PACKAGES=(runc debootstrap umoci busybox-static redis-tools iproute2 git
	openssh-client graphviz tar ca-certificates debian-archive-keyring gcc libc6-dev)

# Set by slipway_env_up, read by slipway_env_down.
SLIPWAY_ENV_OWNED_DIR=
SLIPWAY_ENV_REGISTRY_PID=
SLIPWAY_ENV_BUILDKITD_PID=

slipway_env_log() { printf 'hack/env: %s\n' "$*" >&2; }

# slipway_env_fail MESSAGE [LOG]: print MESSAGE and the tail of LOG, then fail.
slipway_env_fail() {
	slipway_env_log "error: $1"
	if [[ -n ${2-} && -s $2 ]]; then
		printf '%s\n' "---- last lines of $2 ----" >&2
		tail -n 40 "$2" >&2
		printf '%s\n' "----" >&2
	fi
	return 1
}

slipway_env_arch() { go env GOARCH; }

# slipway_env_install_packages: apt-get install what is missing.
slipway_env_install_packages() {
	local pkg missing=() log=$SLIPWAY_CACHE/logs/apt.log
	for pkg in "${SLIPWAY_ENV_PACKAGES[@]}"; do
		if [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null) != ii* ]]; then
			missing+=("$pkg")
		fi
	done
	((${#missing[@]})) || return 0
	slipway_env_log "installing ${missing[*]} (log: $log)"
	{
		DEBIAN_FRONTEND=noninteractive apt-get update -q &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	} >"$log" 2>&1 || slipway_env_fail "apt-get install ${missing[*]} failed" "$log"
}

# slipway_env_build_tools: build the pinned buildkitd and buildctl (their
# versions come from go.mod) and the helpers under internal/cmd. Go's build
# cache makes this quick after the first time.
slipway_env_build_tools() {
	local log=$SLIPWAY_CACHE/logs/go-build.log
	(
		cd "$SLIPWAY_ROOT" &&
			go build -o "$SLIPWAY_CACHE/bin/" \
				github.com/moby/buildkit/cmd/buildkitd \
				github.com/moby/buildkit/cmd/buildctl \
				./internal/cmd/testregistry \
				./internal/cmd/seedimage
	) >"$log" 2>&1 || slipway_env_fail "building buildkitd, buildctl and the test helpers failed" "$log"
}

# slipway_env_apt_uri SUITE: the first URI the host's apt sources use for
# SUITE, from deb822 .sources files or one-line sources.list files.
slipway_env_apt_uri() {
	local suite=$1 f
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -r $f ]] || continue
		awk -v want="$suite" '
			function flush(   n, s, i, u) {
				if (!found && types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no") {
					n = split(suites, s, /[ \t]+/)
					for (i = 1; i <= n; i++) if (s[i] == want) { split(uris, u, /[ \t]+/); print u[1]; found = 1 }
				}
				types = suites = uris = enabled = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			{ key = tolower($1); val = $0; sub(/^[^:]*:[ \t]*/, "", val) }
			key == "types:" { types = val } key == "uris:" { uris = val }
			key == "suites:" { suites = val } key == "enabled:" { enabled = tolower(val) }
			END { flush() }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -r $f ]] || continue
		awk -v want="$suite" '{ sub(/\[[^]]*\]/, "") } $1 == "deb" && $3 == want { print $2 }' "$f"
	done
}

slipway_env_mirror() {
	local uri
	uri=$(slipway_env_apt_uri "$1" | head -n 1)
	printf '%s\n' "${uri:-$2}"
}

# slipway_env_unmount_under DIR: unmount everything mounted below DIR (and
# DIR itself), deepest first.
slipway_env_unmount_under() {
	local dir=$1 m
	[[ -n $dir ]] || return 0
	awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do
		m=$(printf '%b' "$m") # mountinfo escapes spaces as \040
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
			slipway_env_log "warning: could not unmount $m"
	done
}

slipway_env_remove_dir() {
	[[ -n ${1-} && $1 != / && -d $1 ]] || return 0
	slipway_env_unmount_under "$1"
	# --one-file-system: never follow a mount that refused to go away.
	rm -rf --one-file-system "$1" 2>/dev/null || slipway_env_log "warning: could not remove all of $1"
}

# slipway_env_pack DIR OUT: tar DIR's contents, owners kept as numbers, into
# the gzip file OUT.
slipway_env_pack() {
	tar --numeric-owner --sort=name -C "$1" -cf - . | gzip -n >"$2"
}

# slipway_env_slim ROOT: drop docs, man pages and translations from the
# debootstrap tree ROOT, and keep dpkg from installing them later, as Docker's
# official -slim images do. ROOT must be a build dir, never /.
slipway_env_slim() {
	local root=$1 d
	case $root in
	"$SLIPWAY_CACHE"/images/.build.?*/rootfs) ;;
	*)
		slipway_env_fail "slipway_env_slim: refusing to work on '$root'"
		return 1
		;;
	esac
	mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
	printf '%s\n' \
		'path-exclude /usr/share/doc/*' \
		'path-include /usr/share/doc/*/copyright' \
		'path-exclude /usr/share/info/*' \
		'path-exclude /usr/share/linda/*' \
		'path-exclude /usr/share/lintian/overrides/*' \
		'path-exclude /usr/share/locale/*' \
		'path-exclude /usr/share/man/*' >"$root/etc/dpkg/dpkg.cfg.d/docker"
	for d in doc info linda lintian/overrides locale man; do
		[[ -d $root/usr/share/$d ]] || continue
		if [[ $d == doc ]]; then
			find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
		else
			find "$root/usr/share/$d" -mindepth 1 ! -type d -delete
		fi
		find "$root/usr/share/$d" -mindepth 1 -depth -type d -empty -delete
	done
}

# slipway_env_build_debian OUT: a debian:bookworm-slim-like root file system
# from debootstrap, with apt sources pointing at the host's Debian mirror.
slipway_env_build_debian() {
	local out=$1 log=$SLIPWAY_CACHE/logs/debootstrap.log work root mirror security
	mirror=$(slipway_env_mirror "$SLIPWAY_ENV_SUITE" http://deb.debian.org/debian)
	security=$(slipway_env_mirror "$SLIPWAY_ENV_SUITE-security" http://deb.debian.org/debian-security)
	work=$(mktemp -d "$SLIPWAY_CACHE/images/.build.XXXXXX") || return 1
	root=$work/rootfs
	slipway_env_log "debootstrap $SLIPWAY_ENV_SUITE from $mirror (about a minute; log: $log)"
	if ! debootstrap --variant=minbase "$SLIPWAY_ENV_SUITE" "$root" "$mirror" >"$log" 2>&1; then
		slipway_env_remove_dir "$work"
		slipway_env_fail "debootstrap failed" "$log"
		return 1
	fi
	slipway_env_unmount_under "$root"

	# No debootstrap leftovers, no host files, no package caches.
	rm -rf "${root:?}/debootstrap" "${root:?}"/var/lib/apt/lists/* "${root:?}"/var/cache/apt/*.bin \
		"${root:?}"/var/cache/apt/archives/*.deb "${root:?}"/var/cache/debconf/*-old \
		"${root:?}"/var/lib/dpkg/*-old "${root:?}"/dev/* "${root:?}"/etc/resolv.conf \
		"${root:?}"/etc/hostname "${root:?}/etc/apt/sources.list"
	find "${root:?}/var/log" -type f -delete
	slipway_env_slim "$root" || {
		slipway_env_remove_dir "$work"
		return 1
	}
	mkdir -p "$root/var/lib/apt/lists/partial"
	cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SLIPWAY_ENV_SUITE $SLIPWAY_ENV_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $SLIPWAY_ENV_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	slipway_env_pack "$root" "$work/rootfs.tar.gz" &&
		mv "$work/rootfs.tar.gz" "$out"
	local rc=$?
	slipway_env_remove_dir "$work"
	return "$rc"
}

# slipway_env_build_busybox OUT: /bin/busybox from busybox-static with a
# symlink for each applet, as `busybox --install -s` makes them.
slipway_env_build_busybox() {
	local out=$1 work root bb
	bb=$(dpkg -L busybox-static | grep -m 1 '/s\?bin/busybox$') ||
		slipway_env_fail "busybox-static has no busybox binary" || return 1
	work=$(mktemp -d "$SLIPWAY_CACHE/images/.build.XXXXXX") || return 1
	root=$work/rootfs
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,home,tmp,var,proc,sys,dev}
	chmod 1777 "$root/tmp"
	chmod 700 "$root/root"
	cp "$bb" "$root/bin/busybox"
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/home:/bin/false' >"$root/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$root/etc/group"
	chroot "$root" /bin/busybox --install -s &&
		rm -f "$root/linuxrc" &&
		[[ -L $root/bin/sh ]] &&
		slipway_env_pack "$root" "$work/rootfs.tar.gz" &&
		mv "$work/rootfs.tar.gz" "$out"
	local rc=$?
	slipway_env_remove_dir "$work"
	((rc == 0)) || slipway_env_fail "building the busybox root file system failed"
}

# slipway_env_rootfs NAME BUILDER: the path of NAME's cached root file
# system tarball, built with BUILDER when it is not cached yet.
slipway_env_rootfs() {
	local out
	out=$SLIPWAY_CACHE/images/$1.r$SLIPWAY_ENV_IMAGE_RECIPE.$(slipway_env_arch).tar.gz
	if [[ -s $out ]]; then
		slipway_env_log "reusing cached image $1 ($out)"
	else
		"$2" "$out" || return 1
		slipway_env_log "built image $1 ($(du -h "$out" | cut -f1))"
		# Older recipes of the same image.
		find "$SLIPWAY_CACHE/images" -maxdepth 1 -name "$1.r*.$(slipway_env_arch).tar.gz" \
			! -name "${out##*/}" -delete
	fi
}

slipway_env_images() {
	slipway_env_rootfs debian-bookworm-slim slipway_env_build_debian &&
		slipway_env_rootfs busybox slipway_env_build_busybox
}

# slipway_env_prepare: everything that outlives one run, under a lock so
# that two runs never build the same file at once. The Go build and the
# root file systems are made side by side.
slipway_env_prepare() {
	mkdir -p "$SLIPWAY_CACHE"/{bin,images,logs}
	(
		if ! flock -n 9; then
			slipway_env_log "waiting for another hack/env to finish its setup"
			flock 9
		fi
		# Left behind by an interrupted run.
		local stale
		for stale in "$SLIPWAY_CACHE"/images/.build.*; do
			slipway_env_remove_dir "$stale"
		done

		slipway_env_install_packages || exit 1
		slipway_env_log "building buildkitd and buildctl from go.mod"
		slipway_env_build_tools &
		local build=$!
		local images_rc=0 build_rc=0
		slipway_env_images || images_rc=$?
		wait "$build" || build_rc=$?
		((images_rc == 0 && build_rc == 0))
	) 9>"$SLIPWAY_CACHE/setup.lock"
}

# slipway_env_start_registry: start testregistry on a free port.
slipway_env_start_registry() {
	local dir=$SLIPWAY_TEST_DIR i
	setsid "$SLIPWAY_CACHE/bin/testregistry" -addr-file "$dir/registry.addr" \
		-blobs "$dir/registry" </dev/null >"$dir/registry.log" 2>&1 &
	SLIPWAY_ENV_REGISTRY_PID=$!
	for ((i = 0; i < 100; i++)); do
		if [[ -s $dir/registry.addr ]]; then
			SLIPWAY_TEST_REGISTRY=$(<"$dir/registry.addr")
			return 0
		fi
		kill -0 "$SLIPWAY_ENV_REGISTRY_PID" 2>/dev/null || break
		sleep 0.1
	done
	slipway_env_fail "the test registry did not start" "$dir/registry.log"
}

# slipway_env_seed: push the cached root file systems under the names a
# docker.io mirror serves.
slipway_env_seed() {
	local log=$SLIPWAY_TEST_DIR/seed.log arch reg=$SLIPWAY_TEST_REGISTRY
	arch=$(slipway_env_arch)
	{
		"$SLIPWAY_CACHE/bin/seedimage" -insecure -platform "linux/$arch" -env "PATH=$SLIPWAY_ENV_PATH" \
			"$SLIPWAY_CACHE/images/debian-bookworm-slim.r$SLIPWAY_ENV_IMAGE_RECIPE.$arch.tar.gz" \
			"$reg/library/debian:bookworm-slim" bash &&
			"$SLIPWAY_CACHE/bin/seedimage" -insecure -platform "linux/$arch" -env "PATH=$SLIPWAY_ENV_PATH" \
				"$SLIPWAY_CACHE/images/busybox.r$SLIPWAY_ENV_IMAGE_RECIPE.$arch.tar.gz" \
				"$reg/library/busybox:latest" sh
	} >"$log" 2>&1 || slipway_env_fail "pushing the base images failed" "$log"
}

slipway_env_write_config() {
	local dir=$SLIPWAY_TEST_DIR reg=$SLIPWAY_TEST_REGISTRY
	cat >"$dir/buildkitd.toml" <<EOF
root = "$dir/root"

[grpc]
  address = ["unix://$dir/buildkitd.sock"]

[worker.oci]
  enabled = true
  snapshotter = "overlayfs"
  networkMode = "host"

[worker.containerd]
  enabled = false

[registry."docker.io"]
  mirrors = ["$reg"]

[registry."$reg"]
  http = true
  insecure = true
EOF
}

# slipway_env_start_buildkitd: start the daemon and wait up to 60 s until
# it lists its workers.
slipway_env_start_buildkitd() {
	local dir=$SLIPWAY_TEST_DIR log=$SLIPWAY_TEST_DIR/buildkitd.log i
	slipway_env_write_config
	setsid "$SLIPWAY_CACHE/bin/buildkitd" --root "$dir/root" --addr "unix://$dir/buildkitd.sock" \
		--config "$dir/buildkitd.toml" </dev/null >"$log" 2>&1 &
	SLIPWAY_ENV_BUILDKITD_PID=$!
	for ((i = 0; i < 120; i++)); do
		if timeout 10 "$SLIPWAY_CACHE/bin/buildctl" --addr "unix://$dir/buildkitd.sock" \
			debug workers >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$SLIPWAY_ENV_BUILDKITD_PID" 2>/dev/null ||
			slipway_env_fail "buildkitd exited" "$log" || return 1
		sleep 0.5
	done
	slipway_env_fail "buildkitd did not answer within 60 s" "$log"
}

slipway_env_up() {
	local start=$SECONDS
	[[ $EUID -eq 0 ]] || slipway_env_fail "must run as root: buildkitd's OCI worker and debootstrap need it" || return 1
	command -v go >/dev/null || slipway_env_fail "go is not on PATH" || return 1

	slipway_env_prepare || return 1

	# The socket's path must stay under 104 bytes; a long TMPDIR would break it.
	local tmp=${TMPDIR:-/tmp}
	((${#tmp} <= 60)) || tmp=/tmp
	SLIPWAY_TEST_DIR=$(mktemp -d "$tmp/slipway-test.XXXXXX") || return 1
	SLIPWAY_ENV_OWNED_DIR=$SLIPWAY_TEST_DIR
	slipway_env_start_registry || return 1
	slipway_env_log "registry on $SLIPWAY_TEST_REGISTRY; pushing base images"
	slipway_env_seed || return 1
	slipway_env_log "starting buildkitd"
	slipway_env_start_buildkitd || return 1

	export BUILDKIT_HOST=unix://$SLIPWAY_TEST_DIR/buildkitd.sock
	export SLIPWAY_TEST_REGISTRY
	export SLIPWAY_E2E=1
	export SLIPWAY_TEST_BUILDKITD=$SLIPWAY_CACHE/bin/buildkitd
	export SLIPWAY_TEST_BUILDCTL=$SLIPWAY_CACHE/bin/buildctl
	export SLIPWAY_TEST_BUILDKITD_CONFIG=$SLIPWAY_TEST_DIR/buildkitd.toml
	export SLIPWAY_TEST_DIR
	slipway_env_log "ready in $((SECONDS - start))s ($SLIPWAY_TEST_DIR)"
}

slipway_env_print_exports() {
	local v
	for v in BUILDKIT_HOST SLIPWAY_TEST_REGISTRY SLIPWAY_E2E SLIPWAY_TEST_BUILDKITD \
		SLIPWAY_TEST_BUILDCTL SLIPWAY_TEST_BUILDKITD_CONFIG SLIPWAY_TEST_DIR; do
		printf 'export %s=%q\n' "$v" "${!v}"
	done
}

# slipway_env_stop PID NAME: SIGTERM, then SIGKILL after 20 s.
slipway_env_stop() {
	local pid=$1 i
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		slipway_env_log "warning: $2 did not stop; killing it"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

slipway_env_down() {
	slipway_env_stop "$SLIPWAY_ENV_BUILDKITD_PID" buildkitd
	SLIPWAY_ENV_BUILDKITD_PID=
	slipway_env_stop "$SLIPWAY_ENV_REGISTRY_PID" testregistry
	SLIPWAY_ENV_REGISTRY_PID=
	slipway_env_remove_dir "$SLIPWAY_ENV_OWNED_DIR"
	SLIPWAY_ENV_OWNED_DIR=
	return 0
}
