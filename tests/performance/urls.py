"""The portal's URLconf plus the test-only views (used with @pytest.mark.urls)."""

from django.urls import include, path

from tests.performance import views

urlpatterns = [
    path("perf-test/slow/<int:ms>/", views.slow, name="perf-test-slow"),
    path("api/perf-test/slow/<int:ms>/", views.slow, name="perf-test-api-slow"),  # an API route: budget 1 s
    path("perf-test/fails/", views.fails, name="perf-test-fails"),
    path("perf-test/page/", views.page, name="perf-test-page"),
    path("perf-test/members/", views.members_only, name="perf-test-members"),
    path("", include("opsportal.urls")),
]
