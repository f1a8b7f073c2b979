"""Account pages: scan login, the phone's confirm page, the QR image, logout."""

from django.urls import path

from apps.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login", views.login_page, name="login"),
    path("login/qr/<str:ticket>.svg", views.login_qr, name="login-qr"),
    path("login/scan/<str:ticket>", views.login_scan, name="login-scan"),
    path("logout", views.logout_page, name="logout"),
]
