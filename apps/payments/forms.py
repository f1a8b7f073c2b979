from django import forms


class BuyForm(forms.Form):
    """The goods page's "Open a team" / "Join" buttons (and the team page's "Join")."""

    team_id = forms.RegexField(regex=r"^\d{8}$", required=False)
    # One per rendered page: a double submit of the same page is the same order.
    idempotency_key = forms.CharField(required=False, max_length=64)
