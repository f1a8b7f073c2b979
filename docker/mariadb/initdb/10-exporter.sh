# Sourced by the MariaDB image's entrypoint on a fresh data directory (/docker-entrypoint-initdb.d): the account
# mysqld-exporter scrapes with. Server status and performance_schema only: it reads no table of the app (channel
# secrets live there). An existing data directory skips this script; run the same statements once as root
# (docs/decisions/011-database-metrics-from-mariadb.md).
exporter_password=${MYSQLD_EXPORTER_PASSWORD:?MYSQLD_EXPORTER_PASSWORD is not set}
exporter_password=${exporter_password//\\/\\\\}
exporter_password=${exporter_password//\'/\\\'}
docker_process_sql --database=mysql <<EOSQL
CREATE USER IF NOT EXISTS 'exporter'@'%' IDENTIFIED BY '${exporter_password}' WITH MAX_USER_CONNECTIONS 3;
GRANT PROCESS, REPLICATION CLIENT ON *.* TO 'exporter'@'%';
GRANT SELECT ON performance_schema.* TO 'exporter'@'%';
EOSQL
unset exporter_password
