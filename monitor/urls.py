from django.urls import include, path
from rest_framework.routers import DefaultRouter

from monitor import api, views

router = DefaultRouter(trailing_slash=True)
router.register("monitoring-baselines", api.BaselineViewSet, basename="api-monitoring-baseline")
router.register("monitoring-schedules", api.ScheduleViewSet, basename="api-monitoring-schedule")
router.register("monitoring-executions", api.ExecutionViewSet, basename="api-monitoring-execution")
router.register("monitoring-alerts", api.AlertViewSet, basename="api-monitoring-alert")
router.register("clarify-jobs", api.ClarifyViewSet, basename="api-clarify-job")

urlpatterns = [
    path(
        "api/v1/endpoints/<int:pk>/ground-truth/",
        api.GroundTruthView.as_view(),
        name="api-endpoint-ground-truth",
    ),
    path("api/v1/", include(router.urls)),
    *views.urlpatterns,
]
