from django.urls import include, path
from rest_framework.routers import DefaultRouter

from studio.api.views import DatasetViewSet, JobViewSet, ProjectViewSet

router = DefaultRouter(trailing_slash=True)
router.register("projects", ProjectViewSet, basename="api-project")
router.register("datasets", DatasetViewSet, basename="api-dataset")
router.register("jobs", JobViewSet, basename="api-job")

urlpatterns = [path("", include(router.urls))]
