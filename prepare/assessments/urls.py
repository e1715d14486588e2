"""Assessment pages of a case, mounted under ``cases/<pk>/assessments/``."""

from django.urls import path

from prepare.assessments import over_time, pdf

app_name = "assessments"

urlpatterns = [
    # --- Over time: the comparison, the trajectory, the PDF of one assessment ---
    path("compare/", over_time.compare_view, name="compare"),
    path("trajectory/<int:instrument_id>/", over_time.trajectory_view, name="trajectory"),
    path("<int:assessment_pk>/pdf/", pdf.pdf_view, name="pdf"),
    # --- end of the over-time block ---
]
