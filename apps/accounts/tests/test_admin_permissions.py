"""Revoking trusted devices logs people out: it needs the change permission on devices; view-only
staff neither see nor run it."""

import pytest
from django.urls import reverse

from apps.accounts.models import TrustedDevice
from apps.accounts.tests.admin_actions import client_of, offered_actions, post_action, staff_with
from apps.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = reverse("admin:accounts_trusteddevice_changelist")


@pytest.fixture
def device() -> TrustedDevice:
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    return TrustedDevice.objects.create(user=UserFactory.create(), last_seen=now, expires_at=now + timedelta(days=30))


def test_view_only_staff_cannot_revoke(device):
    viewer = client_of(staff_with("accounts.view_trusteddevice"))
    assert "revoke" not in offered_actions(viewer, URL)
    post_action(viewer, URL, "revoke", [device.pk])
    device.refresh_from_db()
    assert device.revoked_at is None


def test_staff_with_change_revokes(device, django_capture_on_commit_callbacks):
    operator = client_of(staff_with("accounts.view_trusteddevice", "accounts.change_trusteddevice"))
    assert "revoke" in offered_actions(operator, URL)
    with django_capture_on_commit_callbacks(execute=True):
        assert post_action(operator, URL, "revoke", [device.pk]).status_code == 302
    device.refresh_from_db()
    assert device.revoked_at is not None


def test_every_admin_action_of_the_project_declares_a_permission_beyond_view():
    """An action without ``permissions`` is offered to anyone who may view the list."""
    from django.contrib import admin

    undeclared = []
    for model, model_admin in admin.site._registry.items():
        if not model.__module__.startswith("apps."):
            continue
        for name in model_admin.actions or ():
            func = getattr(model_admin, name) if isinstance(name, str) else name
            perms = set(getattr(func, "allowed_permissions", ()))
            if not perms or perms <= {"view"}:
                undeclared.append(f"{model._meta.label}.{name}")
    assert undeclared == []
