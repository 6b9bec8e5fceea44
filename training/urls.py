from django.urls import include, path
from rest_framework.routers import DefaultRouter

from training import views
from training.api import AlgorithmViewSet, ExperimentViewSet, RunViewSet, TrainingJobViewSet
from training.mlflow import ROUTES

router = DefaultRouter(trailing_slash=True)
router.register("training-jobs", TrainingJobViewSet, basename="api-training-job")
router.register("training-algorithms", AlgorithmViewSet, basename="api-training-algorithm")
router.register("experiments", ExperimentViewSet, basename="api-experiment")
router.register("runs", RunViewSet, basename="api-run")

urlpatterns = [
    path("training-jobs/", views.training_job_list, name="training-job-list"),
    path("training-jobs/new/", views.training_job_new, name="training-job-new"),
    path("training-jobs/<int:pk>/", views.training_job_detail, name="training-job-detail"),
    path("experiments/", views.experiment_list, name="experiment-list"),
    path("experiments/compare/", views.experiment_compare, name="experiment-compare"),
    path("experiments/<int:pk>/", views.experiment_detail, name="experiment-detail"),
    path("experiments/runs/<int:pk>/", views.run_detail, name="run-detail"),
    path("api/v1/", include(router.urls)),
]
# MLflow's tracking API, for a project named in the tracking URI or the user's one project.
for route, view in ROUTES.items():
    name = "mlflow-" + route.replace("/", "-")
    urlpatterns += [
        path(f"api/2.0/mlflow/{route}", view, name=name),
        path(f"projects/<int:project>/api/2.0/mlflow/{route}", view, name=f"{name}-project"),
    ]
