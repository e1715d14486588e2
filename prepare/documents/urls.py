from django.urls import path

from prepare.documents import views

app_name = "documents"

urlpatterns = [
    path("cases/<int:pk>/", views.case_documents_view, name="case_documents"),
    path(
        "cases/<int:pk>/<int:document_pk>/download/",
        views.download_view,
        name="download",
    ),
    path(
        "cases/<int:pk>/<int:document_pk>/files/<int:version_pk>/download/",
        views.version_download_view,
        name="version_download",
    ),
    path("cases/<int:pk>/<int:document_pk>/replace/", views.replace_view, name="replace"),
    path("cases/<int:pk>/<int:document_pk>/delete/", views.delete_view, name="delete"),
    path("cases/<int:pk>/summary.pdf", views.summary_view, name="case_summary"),
]
