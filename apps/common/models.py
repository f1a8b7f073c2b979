from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    """Every table carries create_time/update_time, as in the reference schema."""

    create_time = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    update_time = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True
