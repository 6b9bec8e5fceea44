from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from studio import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("projects/", views.project_list, name="project-list"),
    path("projects/new/", views.project_create, name="project-create"),
    path("projects/<int:pk>/", views.project_detail, name="project-detail"),
    path("projects/<int:pk>/switch/", views.project_switch, name="project-switch"),
    path("datasets/", views.dataset_list, name="dataset-list"),
    path("datasets/upload/", views.dataset_upload, name="dataset-upload"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<int:pk>/profile/", views.dataset_profile, name="dataset-profile"),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/<int:pk>/", views.job_detail, name="job-detail"),
    path("jobs/<int:pk>/stop/", views.job_stop, name="job-stop"),
    path("jobs/<int:pk>/retry/", views.job_retry, name="job-retry"),
    path("ops/", views.ops_console, name="ops"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("studio.api.urls")),
    # Each app's own routes, by name: the core does not import the apps above it.
    path("", include("labeling.urls")),
    path("", include("wrangler.urls")),
    path("", include("training.urls")),
    path("", include("registry.urls")),
    path("", include("endpoints.urls")),
    path("", include("monitor.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
