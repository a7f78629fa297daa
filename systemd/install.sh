#!/usr/bin/env bash
# Install, update, roll back or remove edge-run as a systemd service (run as root on the device).
#
#   sudo systemd/install.sh [--bundle MODEL.tar.gz] [--detectors DIR] [--onnx]   install or update, then (re)start
#   sudo systemd/install.sh --rollback                                  back to the previous model bundle
#   sudo systemd/install.sh --uninstall [--purge]                       remove; --purge also deletes counts and config
#
# --root DIR installs into DIR instead of / (for tests and image builds: nothing is started
# there). --no-start installs without enabling or starting the service. --onnx adds onnxruntime
# (--backend onnx); on a Jetson install NVIDIA's onnxruntime-gpu into the venv instead.
set -euo pipefail

usage() { sed -n '2,10s/^# \{0,1\}//p' "$0"; }
die() { echo "install.sh: error: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

SOURCE=$(cd "$(dirname "$0")/.." && pwd)
ROOT=/ BUNDLE= DETECTORS= ACTION=install PURGE=0 START=1 ONNX=0
PYTHON=${PYTHON:-python3}
ARGS=("$@")
while [ $# -gt 0 ]; do
  case $1 in
    --root) ROOT=${2:?--root needs a folder}; shift ;;
    --bundle) BUNDLE=${2:?--bundle needs a tarball from make package}; shift ;;
    --detectors) DETECTORS=${2:?--detectors needs a folder}; shift ;;
    --rollback) ACTION=rollback ;;
    --uninstall) ACTION=uninstall ;;
    --purge) PURGE=1 ;;
    --no-start) START=0 ;;
    --onnx) ONNX=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
  shift
done
ROOT=$(mkdir -p "$ROOT" && cd "$ROOT" && pwd)
[ "$ROOT" = / ] && ROOT=
[ "$(id -u)" = 0 ] || die "run as root: sudo $0 ${ARGS[*]}"

# The same paths as in edge-run.service; $ROOT prefixes them only while installing.
PREFIX=/opt/edge-run
MODELS=$PREFIX/models
CONFIG=/etc/edge-run/edge-run.toml
STATE=/var/lib/edge-run
UNIT=/etc/systemd/system/edge-run.service
SYSUSERS=/etc/sysusers.d/edge-run.conf
live() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }

stop_service() {
  if live && systemctl is-active --quiet edge-run; then systemctl stop edge-run; fi
}

start_service() {
  if [ "$START" = 1 ] && live; then
    systemctl daemon-reload
    systemctl enable edge-run
    systemctl restart edge-run
    say "started; follow it with: journalctl -u edge-run -f"
  else
    say "installed into ${ROOT:-/} without starting it"
  fi
}

install_bundle() {
  local bundle=$1 name
  name=$(basename "$bundle")
  [[ $name == *.tar.gz || $name == *.tgz ]] || die "$bundle is not a bundle from make package (*.tar.gz)"
  # A bundle that the runtime refuses never becomes the current one.
  local refused
  if ! refused=$("$ROOT$PREFIX/venv/bin/python" - "$bundle" 2> /dev/null << 'PY'
import sys
from edge.classifiers import load_classifier
from edge.errors import EdgeError
try:
    load_classifier(sys.argv[1])
except (EdgeError, OSError, ValueError) as exc:
    print(exc)
    sys.exit(1)
PY
  ); then
    die "model bundle $bundle refused (${refused:-the runtime could not load it}); the current model is unchanged"
  fi
  install -m 0644 "$bundle" "$ROOT$MODELS/$name.new"
  mv "$ROOT$MODELS/$name.new" "$ROOT$MODELS/$name"
  local current
  current=$(readlink "$ROOT$MODELS/current.tar.gz" || true)
  if [ -n "$current" ] && [ "$current" != "$name" ]; then
    ln -sfn "$current" "$ROOT$MODELS/previous.tar.gz"
  fi
  ln -sfn "$name" "$ROOT$MODELS/current.tar.gz"
  say "model bundle $name is current${current:+ (previous: $current)}"
}

write_config() {
  local model_args=()
  if [ -e "$ROOT$MODELS/current.tar.gz" ]; then model_args=(--model "$MODELS/current.tar.gz"); fi
  if [ -f "$ROOT$CONFIG" ]; then
    say "keeping $CONFIG (the defaults of this version: $CONFIG.default)"
  fi
  "$ROOT$PREFIX/venv/bin/edge-run" --print-config --db "$STATE/counts.db" \
    --detector-dir "$PREFIX/detectors" "${model_args[@]}" > "$ROOT$CONFIG.default"
  [ -f "$ROOT$CONFIG" ] || cp "$ROOT$CONFIG.default" "$ROOT$CONFIG"
}

# The config's secret files (the MQTT password, the live view's token) must be the service user's alone.
check_secrets() {
  local uid file
  uid=$(id_of edge-run passwd)
  while IFS= read -r file; do
    [ -n "$file" ] || continue
    if [ ! -f "$ROOT$file" ]; then
      say "warning: $CONFIG names $file, which does not exist; edge-run will refuse to start"
    elif [ "$(stat -c %u "$ROOT$file")" != "$uid" ] || [ $(( 0$(stat -c %a "$ROOT$file") & 077 )) != 0 ]; then
      say "warning: $file must be readable by the edge-run user only: chown edge-run: $file && chmod 600 $file"
    fi
  done < <("$ROOT$PREFIX/venv/bin/python" -c 'import sys, tomllib
c = tomllib.load(open(sys.argv[1], "rb"))
print(c.get("mqtt", {}).get("password_file", ""), c.get("view", {}).get("token_file", ""), sep="\n")' "$ROOT$CONFIG")
}

do_install() {
  command -v "$PYTHON" > /dev/null || die "no $PYTHON — apt install python3 python3-venv"
  say "installing into ${ROOT:-/}"
  install -d -m 0755 "$ROOT$PREFIX" "$ROOT$MODELS" "$ROOT$PREFIX/detectors" "$ROOT/etc/edge-run" \
    "$ROOT/etc/sysusers.d" "$ROOT/etc/systemd/system"
  install -m 0644 "$SOURCE/systemd/edge-run.sysusers" "$ROOT$SYSUSERS"
  systemd-sysusers ${ROOT:+--root="$ROOT"} "$ROOT$SYSUSERS"
  install -d -m 0750 "$ROOT$STATE"
  chown "$(id_of edge-run passwd):$(id_of edge-run group)" "$ROOT$STATE"

  # --system-site-packages: apt's python3-picamera2 (and libcamera) must be importable.
  [ -x "$ROOT$PREFIX/venv/bin/python" ] || "$PYTHON" -m venv --system-site-packages "$ROOT$PREFIX/venv"
  say "installing the runtime (pip; progress below)"
  local requirements=(-r "$SOURCE/requirements-edge.txt")
  if [ "$ONNX" = 1 ]; then requirements+=(-r "$SOURCE/requirements-onnx.txt"); fi
  # apt's numpy stays the venv's numpy: apt's C extensions (picamera2's simplejpeg on Raspberry Pi OS 12, whose
  # numpy is 1.24) are built against it, and a numpy 2 from pip would shadow it and break their import. Pinned
  # to it, pip picks the OpenCV that works with it (4.11 for numpy 1.x; 4.12+ needs numpy 2, as on Pi OS 13).
  local system_numpy
  system_numpy=$("$PYTHON" -c 'import numpy; print(numpy.__version__)' 2> /dev/null || true)
  if [ -n "$system_numpy" ]; then
    say "keeping apt's numpy $system_numpy (its C extensions are built against it)"
    echo "numpy==$system_numpy" > "$ROOT$PREFIX/constraints.txt"
    requirements+=(-c "$ROOT$PREFIX/constraints.txt")
  fi
  "$ROOT$PREFIX/venv/bin/python" -m pip install --disable-pip-version-check -q "${requirements[@]}"
  "$ROOT$PREFIX/venv/bin/python" -m pip install --disable-pip-version-check -q --no-deps --force-reinstall "$SOURCE"
  install -m 0644 "$SOURCE/README.md" "$ROOT$PREFIX/README.md"

  if [ -n "$BUNDLE" ]; then install_bundle "$BUNDLE"; fi
  if [ -n "$DETECTORS" ]; then
    "$ROOT$PREFIX/venv/bin/edge-models" --dir "$ROOT$PREFIX/detectors" fetch --from "$DETECTORS"
  elif ! "$ROOT$PREFIX/venv/bin/edge-models" --dir "$ROOT$PREFIX/detectors" fetch; then
    say "note: could not fetch the YuNet/SSD files (offline?): edge-run detects with the YuNet shipped in the" \
        "package; the SSD can be copied later with: sudo $0 --detectors DIR"
  fi
  write_config
  check_secrets
  install -m 0644 "$SOURCE/systemd/edge-run.service" "$ROOT$UNIT"
  start_service
}

# The uid/gid from the (possibly non-live) root's own passwd and group files.
id_of() {
  local id
  id=$(awk -F: -v name="$1" '$1 == name { print $3 }' "$ROOT/etc/$2")
  [ -n "$id" ] || die "no $2 entry for $1 in $ROOT/etc/$2"
  echo "$id"
}

do_rollback() {
  local previous current
  previous=$(readlink "$ROOT$MODELS/previous.tar.gz" || true)
  [ -n "$previous" ] || die "no previous model bundle to roll back to (only one was ever installed)"
  current=$(readlink "$ROOT$MODELS/current.tar.gz")
  ln -sfn "$previous" "$ROOT$MODELS/current.tar.gz"
  ln -sfn "$current" "$ROOT$MODELS/previous.tar.gz"
  say "model bundle $previous is current again (was: $current)"
  if live; then systemctl restart edge-run; fi
}

do_uninstall() {
  stop_service
  if live; then systemctl disable edge-run 2> /dev/null || true; fi
  rm -f "$ROOT$UNIT"
  if live; then systemctl daemon-reload; fi
  rm -rf "$ROOT$PREFIX"
  if [ "$PURGE" = 1 ]; then
    rm -rf "$ROOT$STATE" "$ROOT/etc/edge-run" "$ROOT$SYSUSERS"
    if [ -z "$ROOT" ] && id edge-run > /dev/null 2>&1; then userdel edge-run; fi
    say "removed, counts and config included"
  else
    say "removed; kept the counts in $STATE and the config in /etc/edge-run (--purge deletes them)"
  fi
}

"do_$ACTION"
