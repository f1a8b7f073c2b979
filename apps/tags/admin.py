from django.contrib import admin

from apps.tags.models import CrowdTag, CrowdTagDetail, CrowdTagJob


@admin.register(CrowdTag)
class CrowdTagAdmin(admin.ModelAdmin):
    list_display = ("tag_id", "tag_name", "statistics", "update_time")
    search_fields = ("tag_id", "tag_name")
    readonly_fields = ("statistics",)


@admin.register(CrowdTagDetail)
class CrowdTagDetailAdmin(admin.ModelAdmin):
    list_display = ("tag", "user_id", "create_time")
    list_filter = ("tag",)
    search_fields = ("user_id", "tag__tag_id")
    autocomplete_fields = ("tag",)


@admin.register(CrowdTagJob)
class CrowdTagJobAdmin(admin.ModelAdmin):
    list_display = ("batch_id", "tag", "tag_type", "status", "progress", "stat_start_time", "stat_end_time")
    list_filter = ("status", "tag_type")
    search_fields = ("batch_id", "tag__tag_id")
    autocomplete_fields = ("tag",)
    readonly_fields = ("status", "progress", "error")
