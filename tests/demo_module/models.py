from django.db import models
from django.utils.translation import gettext_lazy as _


class Shipment(models.Model):
    """The module's own table: backed up with the rest of the database, with nothing to declare."""

    reference = models.CharField(_("reference"), max_length=32)
    shipped = models.BooleanField(_("shipped"), default=False)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")

    def __str__(self) -> str:
        return self.reference
