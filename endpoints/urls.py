from django.urls import include, path
from rest_framework.routers import DefaultRouter

from endpoints import views
from endpoints.api import EndpointViewSet

router = DefaultRouter(trailing_slash=True)
router.register("endpoints", EndpointViewSet, basename="api-endpoint")

urlpatterns = [
    path("endpoints/", views.endpoint_list, name="endpoint-list"),
    path("endpoints/<int:pk>/", views.endpoint_detail, name="endpoint-detail"),
    path("api/v1/", include(router.urls)),
]
