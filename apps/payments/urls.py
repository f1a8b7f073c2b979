"""Mall pages: cashier, my orders, team share page, sandbox gateway. Filled by the payments work."""

app_name = "payments"

urlpatterns: list = []
