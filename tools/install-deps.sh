#!/usr/bin/env bash
# Installs everything `make test` and `make demo` need, idempotently:
# Debian packages (as root), the project venv (.venv) with tools/requirements.txt,
# and the npm tools in tools/node_modules. Safe to run again; it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -f /usr/share/java/postgresql.jar ] || need_apt+=(libpostgresql-jdbc-java)
[ -x /usr/lib/postgresql/15/bin/initdb ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v npm >/dev/null || need_apt+=(npm)
command -v zip >/dev/null || need_apt+=(zip)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${need_apt[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to install Debian packages: ${need_apt[*]}" >&2; exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

req_hash=$(sha1sum tools/requirements.txt | cut -c1-12)
stamp=".venv/.installed-$req_hash"
if [ ! -f "$stamp" ]; then
  echo "install-deps: creating the Python venv (.venv) from tools/requirements.txt"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r tools/requirements.txt
  rm -f .venv/.installed-*
  touch "$stamp"
fi

if [ -f tools/package.json ]; then
  lock_hash=$(cat tools/package.json tools/package-lock.json 2>/dev/null | sha1sum | cut -c1-12)
  nstamp="tools/node_modules/.installed-$lock_hash"
  if [ ! -f "$nstamp" ]; then
    echo "install-deps: npm tools (tools/node_modules)"
    if [ -f tools/package-lock.json ]; then npm ci --prefix tools --silent --no-audit --no-fund
    else npm install --prefix tools --silent --no-audit --no-fund; fi
    rm -f tools/node_modules/.installed-*
    touch "$nstamp"
  fi
fi
