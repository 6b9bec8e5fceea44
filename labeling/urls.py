from django.urls import include, path
from rest_framework.routers import DefaultRouter

from labeling import portal, views
from labeling.api import (
    AssignmentViewSet,
    LabelingItemViewSet,
    LabelingJobViewSet,
    LabelingTeamViewSet,
)

router = DefaultRouter(trailing_slash=True)
router.register("labeling-jobs", LabelingJobViewSet, basename="api-labeling-job")
router.register("assignments", AssignmentViewSet, basename="api-assignment")
router.register("labeling-teams", LabelingTeamViewSet, basename="api-labeling-team")

item_image = LabelingItemViewSet.as_view({"get": "image"})
item_review = LabelingItemViewSet.as_view({"post": "review"})

urlpatterns = [
    path("labeling/", views.labeling_job_list, name="labeling-job-list"),
    path("labeling/new/", views.labeling_job_new, name="labeling-job-new"),
    path("labeling/teams/", views.labeling_teams, name="labeling-teams"),
    path("labeling/<int:pk>/", views.labeling_job_detail, name="labeling-job-detail"),
    path("labeling/<int:pk>/stop/", views.labeling_job_stop, name="labeling-job-stop"),
    path(
        "labeling/<int:pk>/items/<int:item_pk>/review/",
        views.labeling_item_review,
        name="labeling-item-review",
    ),
    path("portal/", portal.portal_home, name="portal"),
    path("portal/jobs/<int:pk>/", portal.portal_task, name="portal-task"),
    path(
        "api/v1/labeling-jobs/<int:job_pk>/items/<int:pk>/image/",
        item_image,
        name="api-labeling-item-image",
    ),
    path(
        "api/v1/labeling-jobs/<int:job_pk>/items/<int:pk>/review/",
        item_review,
        name="api-labeling-item-review",
    ),
    path("api/v1/", include(router.urls)),
]
