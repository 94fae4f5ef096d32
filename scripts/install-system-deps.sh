#!/usr/bin/env bash
# Installs the Debian packages the test suite needs on a fresh machine.
# Safe to re-run: when everything is already present it returns in well under a
# second without touching apt, so CI can call it unconditionally.
set -euo pipefail

# One entry per line so later work can extend the list without reshaping the script.
PACKAGES=(
    postgresql # initdb/pg_ctl for the private test server, psql for debugging
    prometheus # promtool, to validate alerting rules and dashboards; the live scrape test
    fonts-noto-cjk # CJK glyphs, so province names render in the scorecard's charts
    chromium # the page tests drive it headless (Playwright, no browser download)
    prometheus-alertmanager # the live test of the Alertmanager sink against the real server
    libpango-1.0-0 # WeasyPrint lays out the evidence PDFs with Pango
    libpangoft2-1.0-0 # ... and finds the CJK font through fontconfig with it
    libharfbuzz-subset0 # ... and embeds only the glyphs a pack uses
)

log() { printf 'install-system-deps: %s\n' "$*"; }

is_installed() {
    local status
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]]
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    log "not a Debian-like system (no dpkg/apt-get); install these yourself: ${PACKAGES[*]}"
    exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    if is_installed "$pkg"; then
        log "$pkg: already installed"
    else
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    log "nothing to do"
    exit 0
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        log "SKIPPED: need root or sudo to install: ${missing[*]}"
        log "tests that need these packages will fail until they are installed"
        exit 0
    fi
fi

# Debian's postgresql package starts a system-wide cluster on port 5432 as soon
# as it is installed. The tests run their own throwaway server on a free port,
# so an extra server would only eat memory and could hide a test that wrongly
# connects to the default port. A policy-rc.d that answers 101 ("action
# forbidden") stops maintainer scripts from starting any service; only install
# a temporary one if the machine has none of its own.
POLICY=/usr/sbin/policy-rc.d
policy_added=0
cleanup() {
    if [[ $policy_added -eq 1 ]]; then
        "${SUDO[@]}" rm -f "$POLICY"
    fi
}
trap cleanup EXIT
if [[ ! -e "$POLICY" ]]; then
    log "temporarily preventing package scripts from starting services"
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 755 "$POLICY"
    policy_added=1
fi

export DEBIAN_FRONTEND=noninteractive
log "apt-get update"
"${SUDO[@]}" apt-get update -q
log "apt-get install ${missing[*]}"
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"

for pkg in "${missing[@]}"; do
    if ! is_installed "$pkg"; then
        log "ERROR: $pkg is still not installed"
        exit 1
    fi
done

if command -v pg_lsclusters >/dev/null 2>&1 && pg_lsclusters --no-header 2>/dev/null \
    | awk '$4 == "online" { found = 1 } END { exit !found }'; then
    log "note: a system PostgreSQL cluster is running; the tests neither use nor stop it"
fi
log "done"
