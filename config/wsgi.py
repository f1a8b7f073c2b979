"""The WSGI application (gunicorn: ``config.wsgi:application``), production settings unless told otherwise.

Before serving, production refuses to start while the database holds demo credentials
(``config/guards.py``): the worker fails to boot, so gunicorn exits with the message.
"""

import os

from django.core.wsgi import get_wsgi_application

from config.guards import refuse_unsafe_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_wsgi_application()
refuse_unsafe_start("The WSGI application")
