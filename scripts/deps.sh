#!/usr/bin/env bash
# Installs the system packages EpochDB's tests use, when they are missing:
# redis-tools (redis-cli and redis-benchmark, real clients for the server
# tests), redis-server (the real Redis the differential test compares the
# server with) and chromium (the headless browser the dashboard tests
# drive). Safe to run repeatedly; does nothing when all are present.
set -euo pipefail

need=()
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
echo "deps: installing ${need[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
