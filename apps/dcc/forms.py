"""The admin forms of dynamic configuration: one key's value, and the channel blacklist as pairs."""

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.dcc.keys import ChoiceKey, DccKey, IntKey


class DccKeyForm(forms.Form):
    """One key's new value; the service validates it again (and audits it)."""

    value = forms.CharField(label=_("value"), max_length=1024, required=False)

    def __init__(self, *args, definition: DccKey, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(definition, ChoiceKey):
            self.fields["value"] = forms.ChoiceField(
                label=_("value"), choices=[(choice, choice) for choice in definition.choices]
            )
        elif isinstance(definition, IntKey):
            self.fields["value"] = forms.IntegerField(
                label=_("value"), min_value=definition.minimum, max_value=definition.maximum
            )


class BlacklistForm(forms.Form):
    """Tick listed pairs to remove them, registered channels to add them."""

    remove = forms.MultipleChoiceField(
        label=_("Remove from the blacklist"), required=False, widget=forms.CheckboxSelectMultiple
    )
    add = forms.MultipleChoiceField(
        label=_("Add to the blacklist"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, listed: list[str], channels: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.listed = listed
        labels = dict(channels)
        remove, add = self.fields["remove"], self.fields["add"]
        assert isinstance(remove, forms.MultipleChoiceField) and isinstance(add, forms.MultipleChoiceField)
        remove.choices = [(pair, labels.get(pair, pair)) for pair in listed]
        add.choices = [(pair, label) for pair, label in channels if pair not in listed]

    def new_pairs(self) -> list[str]:
        return sorted((set(self.listed) - set(self.cleaned_data["remove"])) | set(self.cleaned_data["add"]))
