#!/bin/sh
# The image's entry point: with MIGRATE_ON_START=true, migrate the database to this
# version's newest revision first (`orbitflow migrate`); then run the command (pserve).
set -e
case "$(printf %s "${MIGRATE_ON_START:-false}" | tr '[:upper:]' '[:lower:]')" in
  true|1|yes|on) orbitflow migrate production.ini --wait "${MIGRATE_WAIT_SECONDS:-60}" ;;
  false|0|no|off|"") ;;
  *) echo "orbitflow: configuration error: MIGRATE_ON_START must be true or false, got '$MIGRATE_ON_START'" >&2; exit 2 ;;
esac
exec "$@"
