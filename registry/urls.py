from django.urls import include, path
from rest_framework.routers import DefaultRouter

from registry import views
from registry.api import ModelPackageGroupViewSet, ModelPackageViewSet

router = DefaultRouter(trailing_slash=True)
router.register("model-packages", ModelPackageViewSet, basename="api-model-package")
router.register("model-package-groups", ModelPackageGroupViewSet, basename="api-model-group")

urlpatterns = [
    path("models/", views.model_group_list, name="model-group-list"),
    path("models/register/", views.model_package_register, name="model-package-register"),
    path("models/groups/<int:pk>/", views.model_group_detail, name="model-group-detail"),
    path("models/packages/<int:pk>/", views.model_package_detail, name="model-package-detail"),
    path(
        "models/packages/<int:pk>/approve/",
        views.model_package_approve,
        name="model-package-approve",
    ),
    path(
        "models/packages/<int:pk>/reject/", views.model_package_reject, name="model-package-reject"
    ),
    path("models/packages/<int:pk>/edit/", views.model_package_edit, name="model-package-edit"),
    path("api/v1/", include(router.urls)),
]
