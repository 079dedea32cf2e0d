#!/bin/sh
# Run once by the mysql image on an empty data volume (docker-entrypoint-initdb.d). One database and one
# user per service, each user granted its own database and nothing else: a service can neither read nor
# change another's tables. Each service creates its tables itself at start (Alembic migrations).
#
# Passwords come from the environment (MYSQL_USER_PASSWORD, MYSQL_PRODUCT_PASSWORD, MYSQL_ORDER_PASSWORD,
# MYSQL_STOREFRONT_PASSWORD, MYSQL_ADMIN_PASSWORD; URL-safe characters). Outside the image, e.g. on a managed
# server: MYSQL_HOST=db.example.internal MYSQL_ROOT_PASSWORD=... sh deploy/mysql-init/01-databases.sh
# (GLUTA_DB_PREFIX, default gluta, names the databases and users: gluta_user, gluta_order, ...).
set -eu
prefix="${GLUTA_DB_PREFIX:-gluta}"
for service in user product order storefront admin; do
  name="${prefix}_${service}"
  variable="MYSQL_$(echo "$service" | tr 'a-z' 'A-Z')_PASSWORD"
  password="$(printenv "$variable" || true)"
  if [ -z "$password" ]; then
    echo "01-databases.sh: $variable is not set" >&2
    exit 1
  fi
  mysql --user=root --password="${MYSQL_ROOT_PASSWORD:-}" <<SQL
CREATE DATABASE IF NOT EXISTS \`$name\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$name'@'%' IDENTIFIED BY '$password';
ALTER USER '$name'@'%' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON \`$name\`.* TO '$name'@'%';
SQL
done
