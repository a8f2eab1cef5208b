import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from config.admission import AdmissionLimit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = AdmissionLimit(get_wsgi_application(), settings.WEB_ACTIVE_REQUESTS)
