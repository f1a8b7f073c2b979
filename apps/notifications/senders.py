"""How a reminder reaches a shopper: one small class per way, found through a registry (like the outbox's
transports).

* ``inbox``: the in-site inbox. It stores the message row; its unique key (user, team, kind) makes every
  reminder at most once, so it runs first, in the caller's transaction, and decides (``inbox.reminder_send``).
* ``email``: Django's ``send_mail`` (``EMAIL_BACKEND`` from the environment; the console in the embedded
  default, locmem in tests), only to users with an e-mail address, in the site's language
  (``LANGUAGE_CODE``: a user's language is known per request only), ending with the absolute link to the inbox
  (the site's configured public URL, ``apps.common.site``, never a request's Host). After the commit, once: a
  failed e-mail is logged, never retried (at most once).

A WeChat template-message sender can be added later the same way, without touching the callers::

    @senders.register("wechat")
    class WeixinTemplateSender(Sender):
        def send(self, message):  # user.weixin_identity.openid, a template id per kind, message.params
            ...

(not built: no official account is configured here).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from apps.common.registry import Registry
from apps.common.site import public_base_url
from apps.notifications.models import InboxMessage
from apps.notifications.texts import inbox_message_text

logger = logging.getLogger(__name__)

INBOX = "inbox"


class Sender(ABC):
    @abstractmethod
    def send(self, message: InboxMessage) -> bool:
        """Deliver ``message`` to its user; False when it did not (already there, no address)."""


senders: Registry[Sender] = Registry("reminder senders")


@senders.register(INBOX)
class InboxSender(Sender):
    """Store the (unsaved) message: False when the user already has this team's message of this kind."""

    def send(self, message: InboxMessage) -> bool:
        try:
            with transaction.atomic():  # a savepoint: a duplicate leaves the caller's transaction usable
                message.save(force_insert=True)
        except IntegrityError:
            return False
        return True


@senders.register("email")
class EmailSender(Sender):
    def send(self, message: InboxMessage) -> bool:
        address = (message.user.email or "").strip()
        if not address:
            return False
        with translation.override(settings.LANGUAGE_CODE):
            text = inbox_message_text(message)
            inbox = public_base_url() + reverse("notifications:inbox")  # the language's prefix, if URLs have one
            footer = gettext("All your messages are in your inbox: %(url)s") % {"url": inbox}
        send_mail(text.title, f"{text.body}\n\n{footer}\n", settings.DEFAULT_FROM_EMAIL, [address])
        return True
