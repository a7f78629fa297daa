#!/usr/bin/env bash
# Do requirements-edge.txt (and the optional ONNX backend) install from wheels alone on every
# Python and CPU the device side supports? Prints the installed size of each. Needs PyPI.
#   usage: tools/check_wheels.sh [PIP]      (make check-wheels)
set -euo pipefail
PIP=${1:-pip}
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
printf '%-8s %-8s %-22s %s\n' python cpu requirements "installed MB"
for py in 3.11 3.12 3.13; do
  for arch in x86_64 aarch64; do
    for reqs in "requirements-edge.txt" "requirements-edge.txt requirements-onnx.txt"; do
      target="$scratch/$py-$arch-${reqs// /+}"
      args=()
      for r in $reqs; do args+=(-r "$r"); done
      # manylinux_2_27 and newer: Raspberry Pi OS Bookworm has glibc 2.36, JetPack 5 has 2.31.
      "$PIP" install -q --disable-pip-version-check --target "$target" --only-binary=:all: \
        --python-version "$py" --platform "manylinux_2_28_$arch" --platform "manylinux_2_27_$arch" \
        --platform "manylinux_2_17_$arch" --platform "manylinux2014_$arch" "${args[@]}" 2>&1 \
        | grep -v "WARNING: Location" || true
      [ -d "$target/cv2" ] || { echo "check-wheels: no complete wheel set for Python $py on $arch ($reqs)" >&2; exit 1; }
      printf '%-8s %-8s %-22s %s\n' "$py" "$arch" "${reqs//requirements-/}" "$(du -sm "$target" | cut -f1)"
    done
  done
done
