from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "prepare.assessments"
    label = "assessments"
    verbose_name = "Assessments"
