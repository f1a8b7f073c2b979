"""The URL map. The API schema and Swagger UI map every endpoint: public only where ``API_DOCS_PUBLIC``
(local and test); production serves them to staff only (admin session or staff token) unless it is set."""

from urllib.parse import urlencode

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import include, path, reverse
from drf_spectacular.renderers import OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from apps.common import views as common_views


class ApiDocsAccess(BasePermission):
    """Anyone where the docs are public, else staff (DRF authenticates the session or the token)."""

    def has_permission(self, request, view) -> bool:
        return settings.API_DOCS_PUBLIC or bool(request.user and request.user.is_staff)


def _login_redirect(request) -> HttpResponse:
    query = urlencode({"next": request.get_full_path()})
    return HttpResponseRedirect(f"{reverse('admin:login')}?{query}")


def _browser_wants_page(request) -> bool:
    """A browser navigating here (Accept names text/html) without asking for a format (?format=json)."""
    return "format" not in request.GET and "text/html" in request.headers.get("Accept", "")


class OpenApiYamlTextRenderer(OpenApiYamlRenderer):
    """The same YAML as text/plain: a browser shows it instead of downloading a file."""

    media_type = "text/plain"
    format = "yaml"
    charset = "utf-8"


class ApiSchemaView(SpectacularAPIView):
    """Tools get YAML (default) or JSON (``?format=json`` or ``Accept: application/json``); a browser
    gets the YAML as readable text, and without a staff session the admin login (as for /api/docs/)."""

    permission_classes = [ApiDocsAccess]

    def perform_content_negotiation(self, request, force: bool = False):
        if _browser_wants_page(request):
            return OpenApiYamlTextRenderer(), OpenApiYamlTextRenderer.media_type
        return super().perform_content_negotiation(request, force)

    def handle_exception(self, exc: Exception) -> HttpResponse:  # type: ignore[override]  # DRF's dispatch finalizes any HttpResponse; the stubs say Response
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.PermissionDenied) and _browser_wants_page(
            self.request
        ):
            return _login_redirect(self.request)
        return super().handle_exception(exc)


class ApiDocsView(SpectacularSwaggerView):
    """A browser without a staff session is sent to the admin login, and back here after it."""

    permission_classes = [ApiDocsAccess]

    def handle_exception(self, exc: Exception) -> HttpResponse:  # type: ignore[override]  # DRF's dispatch finalizes any HttpResponse; the stubs say Response
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.PermissionDenied):
            return _login_redirect(self.request)
        return super().handle_exception(exc)


urlpatterns = [
    path("healthz", common_views.healthz, name="healthz"),
    path("readyz", common_views.readyz, name="readyz"),
    path("", include("django_prometheus.urls")),  # /metrics
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/gbm/index/", include("apps.storefront.index_urls")),
    path("api/v1/gbm/trade/", include("apps.trade.urls")),
    path("api/v1/gbm/dcc/", include("apps.dcc.urls")),
    path("api/v1/", include("apps.accounts.api_urls")),
    path("api/v1/", include("apps.channels.api_urls")),
    path("api/v1/", include("apps.payments.api_urls")),
    path("api/v1/mall/", include("apps.storefront.api_urls")),
    path("api/v1/mall/", include("apps.notifications.api_urls")),
    path("api/schema/", ApiSchemaView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("apps.accounts.urls")),
    path("", include("apps.payments.urls")),
    path("", include("apps.notifications.urls")),
    path("", include("apps.storefront.urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler404 = "apps.common.views.page_not_found"
handler500 = "apps.common.views.server_error"
