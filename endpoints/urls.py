from django.urls import include, path
from rest_framework.routers import DefaultRouter

from endpoints import transform_views, views
from endpoints.api import EndpointViewSet, TransformJobViewSet

router = DefaultRouter(trailing_slash=True)
router.register("endpoints", EndpointViewSet, basename="api-endpoint")
router.register("transform-jobs", TransformJobViewSet, basename="api-transform-job")

urlpatterns = [
    path("endpoints/", views.endpoint_list, name="endpoint-list"),
    path("endpoints/new/", views.endpoint_new, name="endpoint-new"),
    path("endpoints/<int:pk>/", views.endpoint_detail, name="endpoint-detail"),
    path("transform-jobs/", transform_views.transform_job_list, name="transform-job-list"),
    path("transform-jobs/new/", transform_views.transform_job_new, name="transform-job-new"),
    path(
        "transform-jobs/<int:pk>/",
        transform_views.transform_job_detail,
        name="transform-job-detail",
    ),
    path("api/v1/", include(router.urls)),
]
