#!/usr/bin/env bash
# Opt-in soak test (issue 6): netanom follows a live tcpdump rotation on
# loopback for 30 minutes (or $1 seconds) at 50,000 packets/s (or $2), and
# prints its lag and its RSS at start and end: memory must stay flat.
#   scripts/soak.sh [SECONDS] [RATE]
exec "$(dirname "$0")/../benches/follow.sh" live "${1:-1800}" "${2:-50000}"
