"""Account pages (scan login, logout). Filled by the login work."""

app_name = "accounts"

urlpatterns: list = []
