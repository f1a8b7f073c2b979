"""The analytics admin page through HTTP: access, figures, range filter, CSV, links, labels in both languages."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from apps.accounts.tests.admin_actions import client_of, staff_with
from apps.accounts.tests.factories import StaffFactory
from apps.analytics.exports import COLUMNS
from apps.analytics.tests.data import END, START, known_data

pytestmark = pytest.mark.django_db

ALL_URL = reverse("admin:analytics_report_changelist")
RANGE = {"start": START.isoformat(), "end": END.isoformat()}


@pytest.fixture
def data():
    return known_data()


@pytest.fixture
def viewer():
    return client_of(staff_with("analytics.view_report"))


def activity_url(activity_id: int) -> str:
    return reverse("admin:analytics_report_activity", args=[activity_id])


def test_anonymous_visitors_get_the_admin_login(client):
    for url in (ALL_URL, activity_url(1), f"{ALL_URL}?export=csv"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_view_permission_are_refused(data):
    other = client_of(staff_with("activities.view_activity"))
    assert other.get(ALL_URL).status_code == 403
    assert other.get(activity_url(data.a.activity_id)).status_code == 403
    assert other.get(ALL_URL, {"export": "csv"}).status_code == 403
    index = other.get(reverse("admin:index")).content.decode()
    assert ALL_URL not in index


def test_the_admin_index_links_the_page_for_viewers(viewer):
    assert ALL_URL in viewer.get(reverse("admin:index")).content.decode()


def test_every_activity_page(viewer, data):
    response = viewer.get(ALL_URL, RANGE)
    assert response.status_code == 200
    page = response.content.decode()
    assert response.context["total"][:3] == ["19", "10", "9"]  # trials, locks, paid
    assert "660.00" in page and "52.6%" in page  # revenue; trial → lock 10/19
    assert "0:30:00" in page  # the median time to fill: 1800 s
    assert [day for day, _ in response.context["days"]] == [START, START + timedelta(days=1), END]
    assert [name for _, name, _, _ in response.context["activities"]] == ["Activity A", "Activity B"]
    assert activity_url(data.a.activity_id) in page
    chart = response.context["chart"]
    assert chart["days"] == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert chart["trials"] == [14, 5, 0] and chart["revenue"] == [420.0, 240.0, 0.0]
    assert chart["form_rate"] == [100.0, 50.0, 0.0] and chart["fill_median_seconds"] == [20.0, 60.0, None]
    assert 'id="analytics-data"' in page and "chart-funnel" in page


def test_charts_come_from_our_static_files(viewer, data):
    page = viewer.get(ALL_URL, RANGE).content.decode()
    assert '<script src="/static/vendor/chartjs/chart.umd.min.js" defer>' in page
    assert '<script src="/static/analytics/report.js" defer>' in page
    assert "cdn" not in page.lower() and "//" not in page.split("<script src=")[1].split(">")[0]


def test_one_activity_page(viewer, data):
    response = viewer.get(activity_url(data.b.activity_id), RANGE)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Activity B" in page and "Activity A" not in page
    assert response.context["total"][:3] == ["4", "2", "2"]
    assert f"{ALL_URL}?start=2025-03-01" in page  # back to every activity, same days


def test_an_unknown_activity_is_404(viewer, data):
    assert viewer.get(activity_url(999_999_999)).status_code == 404
    assert viewer.get(activity_url(10**30)).status_code == 404  # past any integer column: still no 500


def test_the_default_range_is_the_last_fourteen_days(viewer):
    response = viewer.get(ALL_URL)
    report = response.context["report"]
    today = timezone.localdate()
    assert (report.start, report.end) == (today - timedelta(days=13), today)
    assert len(response.context["days"]) == 14


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "2025-03-05", "end": "2025-03-01"}, "The first day comes after the last."),
        ({"start": "2020-01-01", "end": "2025-03-01"}, "At most 366 days at a time."),
        ({"start": "yesterday", "end": "2025-03-01"}, "Enter a valid date."),
        ({"start": "0001-01-01", "end": "0001-01-02"}, "Days from 1970-01-01 to 9998-12-31 only."),
        ({"start": "9999-12-30", "end": "9999-12-31"}, "Days from 1970-01-01 to 9998-12-31 only."),
        ({"start": "2025-03-01"}, "This field is required."),
    ],
)
def test_a_bad_range_is_explained_not_a_500(viewer, query, message):
    with translation.override("en"):
        response = viewer.get(ALL_URL, query, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200 and response.context["report"] is None
        assert message in response.content.decode()
        csv = viewer.get(ALL_URL, {**query, "export": "csv"}, HTTP_ACCEPT_LANGUAGE="en")
    assert csv.status_code == 400 and message in csv.content.decode()


def test_csv_export(viewer, data):
    with translation.override("en"):
        response = viewer.get(ALL_URL, {**RANGE, "export": "csv"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="analytics-all-2025-03-01-2025-03-03.csv"'
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    lines = text[1:].split("\r\n")
    assert lines[0] == (
        "Period,Activity id,Activity,Trials,Locks,Paid orders,Trial → lock,Lock → paid,Trial → paid,Revenue,"
        "Refunds,Refunded,Net revenue,Teams opened,Formed (shoppers),Formed (virtual seats),Failed,In progress,"
        'Opened → formed,"Time to fill, median (s)","Time to fill, p90 (s)"'
    )
    assert lines[1:4] == [
        "2025-03-01,,,14,5,6,0.3571,1.2000,0.4286,420.00,0,0.00,420.00,2,2,0,0,0,1.0000,1200,1680",
        "2025-03-02,,,5,4,3,0.8000,0.7500,0.6000,240.00,0,0.00,240.00,2,0,1,1,0,0.5000,3600,3600",
        "2025-03-03,,,0,1,0,,0.0000,,0.00,1,80.00,-80.00,1,0,0,0,1,0.0000,,",
    ]
    assert lines[4] == (
        "2025-03-01/2025-03-03,,,19,10,9,0.5263,0.9000,0.4737,660.00,1,80.00,580.00,5,2,1,1,1,0.6000,1800,3240"
    )
    a, b = data.a.activity_id, data.b.activity_id
    assert lines[5].startswith(f"2025-03-01/2025-03-03,{a},Activity A,15,8,7,")
    assert lines[6].startswith(f"2025-03-01/2025-03-03,{b},Activity B,4,2,2,")
    assert lines[7:] == [""]


def test_csv_of_one_activity_names_it_and_guards_formulas(viewer, data):
    data.b.activity_name = "=HYPERLINK(1)"
    data.b.save()
    response = viewer.get(activity_url(data.b.activity_id), {**RANGE, "export": "csv"})
    lines = response.content.decode("utf-8")[1:].split("\r\n")
    assert lines[1].startswith(f"2025-03-01,{data.b.activity_id},'=HYPERLINK(1),4,2,2,")
    assert len(lines) == 6  # header, three days, the total (no per-activity rows)


def test_the_activity_change_page_links_its_analytics(data):
    change_url = reverse("admin:activities_activity_change", args=[data.a.pk])
    editor = client_of(staff_with("activities.view_activity", "analytics.view_report"))
    assert activity_url(data.a.activity_id) in editor.get(change_url).content.decode()
    no_analytics = client_of(staff_with("activities.view_activity"))
    assert activity_url(data.a.activity_id) not in no_analytics.get(change_url).content.decode()


def test_labels_in_english_and_chinese(data):
    admin = client_of(StaffFactory.create(is_superuser=True))
    for language in ("en", "zh-hans"):
        with translation.override(language):
            page = admin.get(ALL_URL, RANGE, HTTP_ACCEPT_LANGUAGE=language).content.decode()
            csv = admin.get(ALL_URL, {**RANGE, "export": "csv"}, HTTP_ACCEPT_LANGUAGE=language).content.decode()
            for column in COLUMNS:
                assert f">{column.label}</th>" in page  # through gettext: the catalog's words, whatever they are
            assert gettext("Export CSV") in page and gettext("By day") in page
            assert csv[1:].startswith(f"{gettext('Period')},{gettext('Activity id')},{gettext('Activity')},")


def test_chinese_labels_once_the_catalog_has_them(data):
    """The zh-Hans words (merged into locale/ from the branch's translations file): skipped until then."""
    with translation.override("zh-hans"):
        if gettext("Paid orders") == "Paid orders":
            pytest.skip("the zh-Hans catalog has no analytics strings yet")
        admin = client_of(StaffFactory.create(is_superuser=True))
        page = admin.get(ALL_URL, RANGE, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for label in ("试算", "锁单", "支付订单", "导出 CSV"):
        assert label in page
