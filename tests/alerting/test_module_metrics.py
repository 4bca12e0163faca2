"""A module's metric can be watched by an alert rule from start-up: the rule form of a web process that has never
evaluated anything (and with no health snapshot yet) accepts it. The module (tests/demo_module, whose health.py
reports `demo_order_backlog`) is installed through EXTRA_APPS in a real gunicorn, as a deployment installs it."""

from __future__ import annotations

import re

import httpx
import pytest
from django.contrib.auth.models import User

from alerting.models import AlertRule
from monitoring.models import HealthSnapshot
from tests.alerting.test_admin import rule_form

pytestmark = pytest.mark.django_db(transaction=True)


def _add_rule(base: str, metric_name: str) -> httpx.Response:
    with httpx.Client(base_url=base, timeout=30) as session:
        page = session.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        session.post("/admin/login/?next=/admin/", data={"csrfmiddlewaretoken": token, "username": "root",
                                                         "password": "pw", "next": "/admin/"})
        form = session.get("/admin/alerting/alertrule/add/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        return session.post("/admin/alerting/alertrule/add/",
                            data={**rule_form(name=f"rule on {metric_name}", metric_name=metric_name,
                                              threshold="100"), "csrfmiddlewaretoken": token},
                            headers={"Referer": f"{base}/admin/alerting/alertrule/add/"})


def test_the_rule_form_accepts_a_modules_metric_before_any_snapshot(gunicorn_server):
    User.objects.create_superuser("root", "root@example.com", "pw")
    assert not HealthSnapshot.objects.exists()
    portal = gunicorn_server(workers=1, EXTRA_APPS="tests.demo_module", MONITOR_WEB_HOST_REPORT="false")

    accepted = _add_rule(portal.url, "demo_order_backlog")
    refused = _add_rule(portal.url, "demo_order_backlogg")

    assert accepted.status_code == 302, accepted.text[:2000]
    assert AlertRule.objects.filter(name="rule on demo_order_backlog", metric_name="demo_order_backlog").exists()
    assert "Unknown metric “demo_order_backlogg”" in refused.text  # a typo is still refused
    assert "demo_order_backlog" in refused.text  # and the module's metric is among the known ones it lists
    assert not AlertRule.objects.filter(metric_name="demo_order_backlogg").exists()


def test_without_the_module_its_metric_is_unknown(gunicorn_server):
    User.objects.create_superuser("root", "root@example.com", "pw")
    portal = gunicorn_server(workers=1, MONITOR_WEB_HOST_REPORT="false")
    refused = _add_rule(portal.url, "demo_order_backlog")
    assert "Unknown metric “demo_order_backlog”" in refused.text
