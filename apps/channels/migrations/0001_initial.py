# The models of channel signing, moved here from accounts. State only: the tables were created by accounts'
# migrations 0001, 0003 (with the nonce column's binary collation) and 0004, and are kept as they are.

from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0004_channel_notify_hosts'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ChannelCredential',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('create_time', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='created at')),
                        ('update_time', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                        ('source', models.CharField(max_length=16, verbose_name='source')),
                        ('channel', models.CharField(max_length=16, verbose_name='channel')),
                        ('name', models.CharField(blank=True, max_length=64, verbose_name='name')),
                        ('secret', models.CharField(max_length=128, verbose_name='signing secret')),
                        ('signature_required', models.BooleanField(default=True, help_text='Turn off only for legacy malls that cannot sign requests yet.', verbose_name='signature required')),
                        ('enabled', models.BooleanField(default=True, verbose_name='enabled')),
                        ('notify_hosts', models.TextField(blank=True, help_text="Hosts this channel's HTTP callbacks (notifyUrl) may go to, one per line; *.example.com allows its subdomains. Empty: HTTP callbacks are refused (MQ callbacks still work).", verbose_name='callback hosts')),
                        ('notify_private_allowed', models.BooleanField(default=False, help_text='Allow loopback, private and link-local addresses in notifyUrl (local and demo setups only).', verbose_name='callbacks to private addresses')),
                    ],
                    options={
                        'verbose_name': 'channel credential',
                        'verbose_name_plural': 'channel credentials',
                        'db_table': 'channel_credential',
                        'constraints': [models.UniqueConstraint(fields=('source', 'channel'), name='uniq_channel_credential_sc'), models.CheckConstraint(condition=models.Q(('secret', ''), _negated=True), name='channel_secret_not_blank')],
                    },
                ),
                migrations.CreateModel(
                    name='SignatureNonce',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('source', models.CharField(max_length=16, verbose_name='source')),
                        ('channel', models.CharField(max_length=16, verbose_name='channel')),
                        ('nonce', models.CharField(max_length=64, verbose_name='nonce')),
                        ('expires_at', models.DateTimeField(db_index=True, verbose_name='expires at')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                    ],
                    options={
                        'verbose_name': 'signature nonce',
                        'verbose_name_plural': 'signature nonces',
                        'db_table': 'signature_nonce',
                        'constraints': [models.UniqueConstraint(fields=('source', 'channel', 'nonce'), name='uniq_signature_nonce')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
