from django.urls import path

from monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("health/live", views.health_live, name="health-live"),
    path("health/ready", views.health_ready, name="health-ready"),
    path("health", views.health, name="health"),
    path("metrics", views.metrics, name="metrics"),
]
