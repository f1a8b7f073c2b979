"""What a shopper reads when the buy flow refuses: plain words and a next step, never a code.

The API answers keep the spec's codes (clients need them); the pages show these sentences. A code
without its own sentence gets a general one, so a new code never leaks to a page.
"""

from django.utils.translation import gettext as _

from apps.common.errors import GroupBuyError


def _sentences() -> dict[str, str]:
    # Built per call: gettext must run in the request's language.
    return {
        "E0002": _("This offer or team does not exist any more."),
        "E0003": _("The offer is paused for a moment. Please try again in a few minutes."),
        "E0004": _("This offer is not open to you yet."),
        "E0005": _("This team has just ended. Open a new team or join another one."),
        "E0006": _("This team is already full. Open a new team or join another one."),
        "E0007": _("This offer is reserved for selected members."),
        "E0008": _("No more teams can be opened for this offer right now."),
        "E0101": _("This offer is not running right now."),
        "E0102": _("This offer is not running right now."),
        "E0103": _("You have used up this offer: finish or cancel your current group buy first."),
        "E0105": _("Group buying is paused in this shop right now."),
        "0006": _("Too many attempts. Please wait a moment and try again."),
    }


def shopper_message(exc: GroupBuyError) -> str:
    """The sentence a page shows for a refusal of the buy flow."""
    from apps.payments.services import ALREADY_IN_TEAM

    if isinstance(exc.data, dict) and exc.data.get("reason") == ALREADY_IN_TEAM:
        return _("You are already in this team. Share it with friends to fill the remaining seats.")
    if exc.code == "0002":
        return _("This team cannot be joined.")
    return _sentences().get(exc.code) or _("Something went wrong on our side. Please try again.")
