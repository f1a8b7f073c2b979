from django.urls import path

from apps.dcc import apis

urlpatterns = [
    path("update_config", apis.DccUpdateApi.as_view(), name="dcc-update-config"),
    path("config", apis.DccConfigApi.as_view(), name="dcc-config"),
]
