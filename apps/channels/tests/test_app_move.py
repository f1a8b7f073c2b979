"""What must survive the move of channel signing out of accounts: the beat task's name, and staff's admin
permissions (the content types change app instead of being recreated)."""

import importlib

import pytest
from celery import current_app
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from apps.accounts.tests.factories import StaffFactory
from apps.channels.tasks import purge_expired_nonces
from apps.channels.tests.factories import ChannelCredentialFactory

content_types_migration = importlib.import_module("apps.channels.migrations.0002_content_types_from_accounts")


def test_the_nonce_purge_keeps_the_task_name_beat_and_queued_messages_use(settings):
    name = settings.CELERY_BEAT_SCHEDULE["purge-expired-nonces"]["task"]
    assert name == "apps.accounts.tasks.purge_expired_nonces"
    registered = current_app.tasks[name]
    assert registered.name == purge_expired_nonces.name
    assert registered.run.__module__ == "apps.channels.tasks"


@pytest.fixture
def content_types_as_before_the_move(db):
    """The content types as a database at the previous release has them: under accounts."""
    for model in content_types_migration.MODELS:
        ContentType.objects.filter(app_label="channels", model=model).update(app_label="accounts")
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


@pytest.mark.usefixtures("content_types_as_before_the_move")
def test_the_content_type_migration_keeps_a_staff_group_s_admin_permission():
    old = ContentType.objects.get(app_label="accounts", model="channelcredential")
    operators = Group.objects.create(name="channel operators")
    operators.permissions.add(Permission.objects.get(content_type=old, codename="change_channelcredential"))
    staff = StaffFactory(is_superuser=False)
    staff.groups.add(operators)

    content_types_migration.to_channels(apps, None)

    assert not ContentType.objects.filter(app_label="accounts", model__in=content_types_migration.MODELS).exists()
    assert ContentType.objects.get(app_label="channels", model="channelcredential").pk == old.pk
    client = Client()
    client.force_login(staff)
    credential = ChannelCredentialFactory()
    assert client.get(f"/admin/channels/channelcredential/{credential.pk}/change/").status_code == 200
    assert client.get("/admin/channels/signaturenonce/").status_code == 403  # not granted, not moved into a grant


@pytest.mark.usefixtures("content_types_as_before_the_move")
def test_the_content_type_migration_reverses():
    content_types_migration.to_channels(apps, None)
    content_types_migration.to_accounts(apps, None)
    assert set(
        ContentType.objects.filter(model__in=content_types_migration.MODELS).values_list("app_label", flat=True)
    ) == {"accounts"}
