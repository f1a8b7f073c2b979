"""MariaDB/MySQL backend whose transactions cost no ``SET autocommit`` round trips (``base.py``)."""
