#!/usr/bin/env bash
# Brings a machine from "Node and npm" to "everything built": Debian build
# packages, pnpm, the workspace's dependencies, the native addons, the guest
# images, the TypeScript and the dashboard. Each step checks first and is
# skipped when its result is already in place, so a second run takes a few
# seconds. With --tests it also installs what the test suite needs beyond
# that (Chromium for the browser tests, a nested Xen, Prometheus's promtool).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'uckpt setup: %s\n' "$*" >&2; }
die() { printf 'uckpt setup: error: %s\n' "$*" >&2; exit 1; }

# Debian packages the build and the tests need, as "command:package",
# "/path:package" or "@:package" pairs (QEMU boots the guest image through its Xen PVH
# entry; the Xen addon builds against libxen-dev). The tests also boot a
# real Xen under QEMU (e2e/xen): its hypervisor, tools and a dom0 kernel.
DEBIAN_NEEDS=(gcc:gcc g++:g++ make:make python3:python3 qemu-system-x86_64:qemu-system-x86 /usr/include/xenctrl.h:libxen-dev)
# Without /dev/kvm, KVM runs in the KVM rig (e2e/kvm-rig): Debian's kernel and a
# busybox initramfs under QEMU's software emulation, for `npm start` and the tests.
KVM_RIG_NEEDS=(@:busybox-static cpio:cpio depmod:kmod xz:xz-utils)
if [ ! -e /dev/kvm ]; then DEBIAN_NEEDS+=("${KVM_RIG_NEEDS[@]}"); fi
if [ "${1:-}" = "--tests" ]; then
  DEBIAN_NEEDS+=(chromium:chromium @:xen-hypervisor-4.17-amd64 @:xen-utils-4.17 @:linux-image-amd64 "${KVM_RIG_NEEDS[@]}")
fi

# "@" checks that the package itself is installed.
present() {
  case ${1%%:*} in
    @) dpkg-query -W -f='${Status}' "${1#*:}" 2>/dev/null | grep -q 'ok installed' ;;
    /*) [ -e "${1%%:*}" ] ;;
    *) command -v "${1%%:*}" >/dev/null 2>&1 ;;
  esac
}

install_debian_packages() {
  local missing=() pair
  for pair in "${DEBIAN_NEEDS[@]}"; do
    present "$pair" || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: ${missing[*]}; install them (sudo apt-get install ${missing[*]}) or run as root"
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install them with"
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_pnpm() {
  if command -v pnpm >/dev/null 2>&1 && [[ "$(pnpm --version)" == 10.* ]]; then return; fi
  say "installing pnpm 10 with npm"
  npm install -g --silent pnpm@10 || die "could not install pnpm (npm install -g pnpm@10 failed)"
  hash -r
}

# pnpm install is skipped when no manifest or the lockfile changed since the last one.
install_dependencies() {
  local stamp=node_modules/.uckpt-install-stamp digest
  digest=$(cat pnpm-lock.yaml package.json pnpm-workspace.yaml apps/*/package.json packages/*/package.json e2e/package.json 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then return; fi
  say "installing workspace dependencies"
  if [ -f pnpm-lock.yaml ]; then
    pnpm install --frozen-lockfile --reporter=silent
  else
    pnpm install --reporter=silent
  fi
  echo "$digest" >"$stamp"
}

# promtool checks the /metrics exposition in the tests. It comes from Debian's
# prometheus package, unpacked into .cache/ rather than installed: installing
# it would also set up (and start) a Prometheus server.
unpack_promtool() {
  local into=.cache/prometheus
  [ -x "$into/usr/bin/promtool" ] && return
  command -v promtool >/dev/null 2>&1 && return
  say "unpacking promtool from Debian's prometheus package"
  local download
  download=$(mktemp -d)
  (cd "$download" && apt-get download -qq prometheus 2>/dev/null) || die "could not download Debian's prometheus package (for promtool)"
  mkdir -p "$into"
  dpkg-deb -x "$download"/prometheus_*.deb "$into"
  rm -rf "$download"
}

# The dashboard is rebuilt only when its sources or manifest changed.
build_web() {
  local stamp=apps/web/dist/.uckpt-build-stamp digest
  digest=$(find apps/web/src apps/web/index.html apps/web/package.json apps/web/vite.config.* apps/web/tsconfig*.json packages/engine/src packages/native-core/lib -type f 2>/dev/null | sort | xargs cat | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then return; fi
  say "building the dashboard"
  pnpm --silent run build:web
  echo "$digest" >"$stamp"
}

node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js 20 or newer is needed (found $(node --version))"

install_debian_packages
if [ "${1:-}" = "--tests" ]; then unpack_promtool; fi
install_pnpm
install_dependencies
say "building native addons and guest images"
pnpm --silent run build:native
say "building TypeScript"
pnpm --silent run build:ts
build_web
# The KVM rig's kernel and initramfs, built once (the kernel comes from Debian's
# bookworm-backports, about 100 MB); rebuilt only when an input changes.
if [ ! -e /dev/kvm ]; then
  bash e2e/kvm-rig/build-initramfs.sh || die "could not build the KVM rig (e2e/kvm-rig/build-initramfs.sh)"
fi
say "ready"
