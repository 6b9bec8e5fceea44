from django.urls import include, path
from rest_framework.routers import DefaultRouter

from training import views
from training.api import AlgorithmViewSet, TrainingJobViewSet

router = DefaultRouter(trailing_slash=True)
router.register("training-jobs", TrainingJobViewSet, basename="api-training-job")
router.register("training-algorithms", AlgorithmViewSet, basename="api-training-algorithm")

urlpatterns = [
    path("training-jobs/", views.training_job_list, name="training-job-list"),
    path("training-jobs/new/", views.training_job_new, name="training-job-new"),
    path("training-jobs/<int:pk>/", views.training_job_detail, name="training-job-detail"),
    path("api/v1/", include(router.urls)),
]
