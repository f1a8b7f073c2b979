# The content types of the moved models change app (accounts -> channels) instead of being recreated: the
# admin permissions hang off them (auth_permission.content_type_id), so what staff groups were granted stays.
# A fresh database has no such rows yet (post_migrate creates them after this): then nothing changes.

from django.db import migrations

MODELS = ('channelcredential', 'signaturenonce')


def _move(apps, old_label, new_label):
    ContentType = apps.get_model('contenttypes', 'ContentType')
    for model in MODELS:
        if ContentType.objects.filter(app_label=new_label, model=model).exists():
            continue  # already there (created by hand or a partial run): leave both alone
        ContentType.objects.filter(app_label=old_label, model=model).update(app_label=new_label)
    ContentType.objects.clear_cache()


def to_channels(apps, schema_editor):
    _move(apps, 'accounts', 'channels')


def to_accounts(apps, schema_editor):
    _move(apps, 'channels', 'accounts')


class Migration(migrations.Migration):

    dependencies = [
        ('channels', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.RunPython(to_channels, to_accounts),
    ]
