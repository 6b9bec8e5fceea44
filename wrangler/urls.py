from django.urls import include, path
from rest_framework.routers import DefaultRouter

from wrangler import views
from wrangler.api import FlowViewSet, ProcessingJobViewSet

router = DefaultRouter(trailing_slash=True)
router.register("flows", FlowViewSet, basename="api-flow")
router.register("processing-jobs", ProcessingJobViewSet, basename="api-processing-job")

urlpatterns = [
    path("flows/", views.flow_list, name="flow-list"),
    path("flows/<int:pk>/", views.flow_editor, name="flow-editor"),
    path("api/v1/", include(router.urls)),
]
