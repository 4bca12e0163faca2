"""The module's URLs: mounted at /demo_module/ (its app label) with no line in opsportal/urls.py."""

from django.urls import path

from tests.demo_module import views

app_name = "demo_module"

urlpatterns = [
    path("board/", views.board, name="board"),
    path("api/shipments/", views.shipments_api, name="api-shipments"),
]
