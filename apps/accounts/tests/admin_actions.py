"""Admin actions as a staff member sees them: a non-superuser with chosen permissions, the actions
its changelist offers, and an action posted the way the changelist posts it."""

from django.contrib.auth.models import Permission
from django.test import Client

from apps.accounts.models import User
from apps.accounts.tests.factories import StaffFactory


def staff_with(*perms: str) -> User:
    """Staff (not superuser) holding exactly ``perms`` ("app_label.codename")."""
    staff = StaffFactory.create(is_superuser=False)
    for perm in perms:
        app_label, codename = perm.split(".")
        staff.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return staff


def client_of(staff: User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def offered_actions(client: Client, changelist_url: str) -> set[str]:
    """The actions in the changelist's dropdown (empty when it shows none)."""
    response = client.get(changelist_url)
    assert response.status_code == 200
    form = response.context["action_form"]
    return {value for value, _ in form.fields["action"].choices if value} if form is not None else set()


def post_action(client: Client, changelist_url: str, action: str, pks, **data):
    return client.post(changelist_url, {"action": action, "_selected_action": [str(pk) for pk in pks], **data})
