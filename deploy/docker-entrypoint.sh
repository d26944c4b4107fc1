#!/bin/sh
# The image's entry point: with MIGRATE_ON_START=true, migrate the database to this
# version's newest revision (`orbitflow migrate`) before the server (pserve) starts.
# Other commands (orbitflow restore, check, backup; initializedb) run as they are: a
# restore needs the empty database that a migration would have filled.
set -e
case "$(printf %s "${MIGRATE_ON_START:-false}" | tr '[:upper:]' '[:lower:]')" in
  true|1|yes|on) migrate=true ;;
  false|0|no|off|"") migrate=false ;;
  *) echo "orbitflow: configuration error: MIGRATE_ON_START must be true or false, got '$MIGRATE_ON_START'" >&2; exit 2 ;;
esac
case "$1" in
  pserve|*/pserve) if [ "$migrate" = true ]; then orbitflow migrate production.ini --wait "${MIGRATE_WAIT_SECONDS:-60}"; fi ;;
esac
exec "$@"
