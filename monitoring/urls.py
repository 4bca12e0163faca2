from django.urls import path

from monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("health/live", views.health_live, name="health-live"),
]
