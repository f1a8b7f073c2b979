"""The crowd tag job form of the admin: a job must be runnable as typed in, or it is refused here."""

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import FileExtensionValidator
from django.utils.translation import gettext_lazy as _

from apps.common.errors import GroupBuyError
from apps.tags import services
from apps.tags.models import CrowdTagJob


class CrowdTagJobForm(forms.ModelForm):
    class Meta:
        model = CrowdTagJob
        fields = ("tag", "tag_type", "source_file", "tag_rule", "stat_start_time", "stat_end_time")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        source_file = self.fields.get("source_file")  # absent while the job is running (read-only)
        if source_file is None:
            return
        source_file.validators.append(
            FileExtensionValidator(allowed_extensions=list(services.CROWD_TAG_CSV_EXTENSIONS))
        )
        source_file.help_text = _(
            "A .csv or .txt file of at most %(size)d MB, UTF-8: one user id per line, or a column named "
            "user_id. Blank lines and duplicates are skipped; user ids have at most 64 characters."
        ) % {"size": services.CROWD_TAG_CSV_MAX_BYTES // (1024 * 1024)}

    def clean_source_file(self):
        upload = self.cleaned_data.get("source_file")
        if not isinstance(upload, UploadedFile):  # nothing new uploaded
            return upload
        if (upload.size or 0) > services.CROWD_TAG_CSV_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(size)d MB.") % {"size": services.CROWD_TAG_CSV_MAX_BYTES // (1024 * 1024)}
            )
        # The same parser as the job: a bad file is refused now rather than failing later.
        upload.seek(0)
        data = upload.read()
        upload.seek(0)
        try:
            services.parse_user_id_csv(data)
        except GroupBuyError as exc:
            raise forms.ValidationError(exc.info) from None
        return upload

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        tag_type = cleaned.get("tag_type")
        if tag_type == CrowdTagJob.TagType.CSV_IMPORT:
            if not cleaned.get("source_file") and "source_file" not in self.errors:
                self.add_error("source_file", _("A CSV import job needs a file of user ids."))
        elif tag_type == CrowdTagJob.TagType.TRADING_HISTORY:
            start, end = cleaned.get("stat_start_time"), cleaned.get("stat_end_time")
            for field, value in (("stat_start_time", start), ("stat_end_time", end)):
                if value is None and field not in self.errors:
                    self.add_error(field, _("A trading-history job needs its window."))
            if start and end and end <= start:
                self.add_error("stat_end_time", _("The window end must be after its start."))
            rule = (cleaned.get("tag_rule") or "").strip()
            if not rule:
                self.add_error("tag_rule", _("Enter the minimum number of paid orders, e.g. 1."))
            else:
                try:
                    cleaned["tag_rule"] = str(services.crowd_tag_min_paid_orders(rule))
                except GroupBuyError:
                    self.add_error("tag_rule", _("The rule must be a positive whole number of paid orders."))
        return cleaned
