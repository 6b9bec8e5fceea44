from django.urls import include, path
from rest_framework.routers import DefaultRouter

from training.api import AlgorithmViewSet, TrainingJobViewSet

router = DefaultRouter(trailing_slash=True)
router.register("training-jobs", TrainingJobViewSet, basename="api-training-job")
router.register("training-algorithms", AlgorithmViewSet, basename="api-training-algorithm")

urlpatterns = [path("api/v1/", include(router.urls))]
