#!/bin/bash
# Dev only: recreate database $1 (default econ) on the private PG15 and apply all migrations.
set -e
DB=${1:-econ}
export PGOPTIONS="-c client_min_messages=warning"; P="psql -h /tmp/pg-econ -p 5541 -U postgres -X -q"
$P -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
for f in $(ls /work/wt-econ/db/migrations/*.sql | grep -v rollback | sort); do
  $P -d $DB -v ON_ERROR_STOP=1 -1 -f "$f" >/dev/null || { echo "FAILED $f"; exit 1; }
done
echo ok
