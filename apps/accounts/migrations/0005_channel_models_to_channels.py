# ChannelCredential and SignatureNonce moved to the channels app: removed from this app's state only.
# Their tables (channel_credential, signature_nonce) stay, with their rows: channels 0001 takes them over.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_channel_notify_hosts'),
        ('channels', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='ChannelCredential'),
                migrations.DeleteModel(name='SignatureNonce'),
            ],
            database_operations=[],
        ),
    ]
