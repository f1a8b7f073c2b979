# Sourced by the MariaDB image's entrypoint on the replica's fresh data directory: the account the app reads the
# replica with (DATABASE_REPLICA_URL). SELECT on the app's database and SLAVE MONITOR for the router's lag check
# (SHOW SLAVE STATUS); nothing it could write with, on a server that is read_only besides
# (docs/decisions/017-a-mariadb-replica-for-lag-tolerant-reads.md).
reader_password=${MARIADB_READER_PASSWORD:?MARIADB_READER_PASSWORD is not set}
reader_password=${reader_password//\\/\\\\}
reader_password=${reader_password//\'/\\\'}
database=${MARIADB_DATABASE:?MARIADB_DATABASE is not set}
docker_process_sql --database=mysql <<EOSQL
CREATE USER IF NOT EXISTS 'reader'@'%' IDENTIFIED BY '${reader_password}';
GRANT SELECT ON \`${database}\`.* TO 'reader'@'%';
GRANT SLAVE MONITOR ON *.* TO 'reader'@'%';
EOSQL
unset reader_password
