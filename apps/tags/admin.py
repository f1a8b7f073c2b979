"""Crowd tags in admin. Every action changes state (Redis bitmaps, import jobs), so each needs the
model's ``change`` permission: view-only staff neither see nor run them.

A new job starts when it is saved (queued after the commit): its batch id is generated, and its
progress shows as a percentage of the users it collected. A done or failed job runs again after
"reset" and "run"."""

from functools import partial

from django.contrib import admin, messages
from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.common.errors import GroupBuyError
from apps.tags.forms import CrowdTagJobForm
from apps.tags.models import CrowdTag, CrowdTagDetail, CrowdTagJob
from apps.tags.services import CLAIMABLE_STATUSES, crowd_tag_job_reset
from apps.tags.tasks import rebuild_crowd_tag_bitmap, run_crowd_tag_job


def _rebuild_after_commit(tag_ids) -> None:
    for tag_id in sorted(set(tag_ids)):
        transaction.on_commit(partial(rebuild_crowd_tag_bitmap.delay, tag_id))


@admin.register(CrowdTag)
class CrowdTagAdmin(admin.ModelAdmin):
    list_display = ("tag_id", "tag_name", "statistics", "update_time")
    search_fields = ("tag_id", "tag_name")
    readonly_fields = ("statistics",)
    actions = ("rebuild_bitmaps",)

    @admin.action(description=_("Rebuild the Redis bitmap from the members"), permissions=["change"])
    def rebuild_bitmaps(self, request, queryset):
        tag_ids = list(queryset.values_list("tag_id", flat=True))
        _rebuild_after_commit(tag_ids)
        self.message_user(
            request,
            ngettext(
                "Bitmap rebuild queued for %(count)d tag: %(tags)s. Member counts are recounted too.",
                "Bitmap rebuild queued for %(count)d tags: %(tags)s. Member counts are recounted too.",
                len(tag_ids),
            )
            % {"count": len(tag_ids), "tags": ", ".join(tag_ids)},
            messages.SUCCESS,
        )


@admin.register(CrowdTagDetail)
class CrowdTagDetailAdmin(admin.ModelAdmin):
    """Members edited by hand: every change queues a rebuild, which also recounts the tag's statistics."""

    list_display = ("tag", "user_id", "create_time")
    list_filter = ("tag",)
    search_fields = ("user_id", "tag__tag_id")
    autocomplete_fields = ("tag",)

    def save_model(self, request, obj, form, change):
        old_tag_id = form.initial.get("tag") if change else None
        super().save_model(request, obj, form, change)
        _rebuild_after_commit([tag_id for tag_id in (obj.tag_id, old_tag_id) if tag_id])

    def delete_model(self, request, obj):
        tag_id = obj.tag_id
        super().delete_model(request, obj)
        _rebuild_after_commit([tag_id])

    def delete_queryset(self, request, queryset):
        tag_ids = list(queryset.values_list("tag_id", flat=True).distinct())
        super().delete_queryset(request, queryset)
        _rebuild_after_commit(tag_ids)


@admin.register(CrowdTagJob)
class CrowdTagJobAdmin(admin.ModelAdmin):
    form = CrowdTagJobForm
    list_display = ("batch_id", "tag", "tag_type", "status", "progress_percent", "short_error", "update_time")
    list_filter = ("status", "tag_type")
    search_fields = ("batch_id", "tag__tag_id")
    autocomplete_fields = ("tag",)
    readonly_fields = ("batch_id", "status", "progress_percent", "error", "update_time")
    actions = ("run_jobs", "reset_jobs")
    fieldsets = (
        (None, {"fields": ("batch_id", "tag", "tag_type")}),
        (_("CSV import"), {"fields": ("source_file",)}),
        (_("Trading history"), {"fields": ("tag_rule", "stat_start_time", "stat_end_time")}),
        (_("Progress"), {"fields": ("status", "progress_percent", "error", "update_time")}),
    )

    @admin.display(description=_("progress"))
    def progress_percent(self, job: CrowdTagJob) -> str | Promise:
        percent = job.percent
        if percent is None:
            return _("queued") if job.status in CLAIMABLE_STATUSES else "—"
        return _("%(percent)d%% (%(done)d of %(total)d users)") % {
            "percent": percent,
            "done": job.progress,
            "total": max(job.total, job.progress),
        }

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # the batch id is generated on save; nothing to show yet
            return ((None, {"fields": ("tag", "tag_type")}), *self.fieldsets[1:3])
        return self.fieldsets

    @admin.display(description=_("last error"))
    def short_error(self, job: CrowdTagJob) -> str:
        return job.error if len(job.error) <= 120 else f"{job.error[:117]}..."

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status == CrowdTagJob.Status.RUNNING:
            return (*self.form.Meta.fields, *self.readonly_fields)
        return self.readonly_fields

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request,
            _("Job %(batch)s started; its progress shows on this page and in the list.") % {"batch": obj.batch_id},
            messages.INFO,
        )
        return super().response_add(request, obj, post_url_continue)

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            transaction.on_commit(partial(run_crowd_tag_job.delay, obj.pk))  # saving starts the import
            return
        # Write only what the form edited: status/progress belong to the running job, not to this page.
        fields = [name for name in form.changed_data if name in form.Meta.fields]
        if fields:
            obj.save(update_fields=[*fields, "update_time"])

    @admin.action(description=_("Run the selected jobs"), permissions=["change"])
    def run_jobs(self, request, queryset):
        jobs = list(queryset.only("pk", "batch_id", "status").order_by("pk"))
        runnable = [job for job in jobs if job.status in CLAIMABLE_STATUSES]
        skipped = [job for job in jobs if job.status not in CLAIMABLE_STATUSES]
        for job in runnable:
            transaction.on_commit(partial(run_crowd_tag_job.delay, job.pk))
        if runnable:
            self.message_user(
                request,
                ngettext(
                    "Queued %(count)d job: %(jobs)s. Its status and progress show in this list.",
                    "Queued %(count)d jobs: %(jobs)s. Their status and progress show in this list.",
                    len(runnable),
                )
                % {"count": len(runnable), "jobs": ", ".join(job.batch_id for job in runnable)},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                _("Not run, only new or reset jobs run (reset a done or failed job first): %(jobs)s")
                % {"jobs": ", ".join(f"{job.batch_id} ({job.get_status_display()})" for job in skipped)},
                messages.WARNING,
            )

    @admin.action(description=_("Reset the selected jobs (members are kept)"), permissions=["change"])
    def reset_jobs(self, request, queryset):
        done, refused = [], []
        for job in queryset.only("pk", "batch_id").order_by("pk"):
            try:
                crowd_tag_job_reset(job_id=job.pk)
            except GroupBuyError as exc:
                refused.append(f"{job.batch_id}: {exc.info}")
            else:
                done.append(job.batch_id)
        if done:
            self.message_user(
                request,
                ngettext(
                    "Reset %(count)d job: %(jobs)s. Its members are kept; run it again to re-import.",
                    "Reset %(count)d jobs: %(jobs)s. Their members are kept; run them again to re-import.",
                    len(done),
                )
                % {"count": len(done), "jobs": ", ".join(done)},
                messages.SUCCESS,
            )
        for reason in refused:
            self.message_user(request, _("Not reset: %(reason)s") % {"reason": reason}, messages.ERROR)
