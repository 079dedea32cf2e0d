-- Run once by the mysql image on an empty data volume (docker-entrypoint-initdb.d), after it created
-- the user MYSQL_USER=gluta. One database per service: each service owns its tables and no service
-- reads another's. Each service creates its tables itself at start (Alembic migrations).
CREATE DATABASE IF NOT EXISTS gluta_user CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS gluta_product CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS gluta_order CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS gluta_storefront CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS gluta_admin CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

GRANT ALL PRIVILEGES ON gluta_user.* TO 'gluta'@'%';
GRANT ALL PRIVILEGES ON gluta_product.* TO 'gluta'@'%';
GRANT ALL PRIVILEGES ON gluta_order.* TO 'gluta'@'%';
GRANT ALL PRIVILEGES ON gluta_storefront.* TO 'gluta'@'%';
GRANT ALL PRIVILEGES ON gluta_admin.* TO 'gluta'@'%';
FLUSH PRIVILEGES;
