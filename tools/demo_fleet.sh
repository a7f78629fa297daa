#!/usr/bin/env bash
# make demo-fleet: Mosquitto (from apt) on a free local port, two edge-runs on the demo clip as two
# doorways publishing to it, then edge-report --mqtt showing both. Usage: tools/demo_fleet.sh VENV
set -euo pipefail
venv=${1:?give the device venv, e.g. .venv-edge}
out=demo-out/fleet
broker=$(PATH="$PATH:/usr/sbin" command -v mosquitto) || {
  echo "demo-fleet: error: no mosquitto — sudo apt install mosquitto" >&2; exit 1; }
mkdir -p "$out" && rm -f "$out"/*.db*
[ -f demo-out/doorway.mp4 ] || "$venv/bin/python" tools/demo_clip.py demo-out/doorway.mp4
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\nuser %s\n' "$port" "$(id -un)" > "$out/mosquitto.conf"
"$broker" -c "$out/mosquitto.conf" > "$out/mosquitto.log" 2>&1 &
trap 'kill $! 2> /dev/null || true' EXIT
sleep 0.5
for door in front-door back-door; do
  echo "demo-fleet: $door"
  "$venv/bin/edge-run" --camera demo-out/doorway.mp4 --db "$out/$door.db" --gpio none \
    --mqtt-host 127.0.0.1 --mqtt-port "$port" --mqtt-device "$door"
done
"$venv/bin/edge-report" --mqtt "127.0.0.1:$port"
