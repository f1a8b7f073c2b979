"""Template helpers of the mall pages: inline QR codes and per-page idempotency keys."""

import uuid

import segno
from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from apps.trade.selectors import countdown

register = template.Library()


@register.filter
def qr_svg(url: str, title: str = "") -> str:
    """An inline SVG QR code of ``url`` (segno; no external service, no image file)."""
    svg = segno.make(str(url), error="m").svg_inline(scale=4, border=2, title=title or None)
    return format_html('<span class="qr" data-qr-for="{}">{}</span>', url, mark_safe(svg))  # noqa: S308 - segno's own SVG


@register.simple_tag
def new_idempotency_key() -> str:
    return uuid.uuid4().hex


@register.filter
def countdown_from_now(moment) -> str:
    """ "HH:MM:SS" until ``moment``: the text countdown.js then keeps ticking (right without JS too)."""
    return countdown(moment) if moment else "--:--:--"
