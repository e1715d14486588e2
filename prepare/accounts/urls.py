from django.urls import path

from prepare.accounts import views
from prepare.accounts.sso import views as sso

app_name = "accounts"

urlpatterns = [
    path("sign-in/", views.sign_in, name="login"),
    path("sign-out/", views.sign_out, name="logout"),
    path("two-factor/", views.mfa_setup, name="mfa_setup"),
    path("settings/", views.preferences, name="preferences"),
    path("api-tokens/", views.api_tokens, name="api_tokens"),
    path("api-tokens/<int:pk>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("csp-report/", views.csp_report, name="csp_report"),
    path("sso/", sso.sso_start, name="sso_start"),
    path("sso/return/", sso.sso_callback, name="sso_callback"),
    path("sso/code/", sso.sso_code, name="sso_code"),
    path("identity-providers/", sso.identity_providers, name="identity_providers"),
    path("identity-providers/new/", sso.identity_provider_create, name="identity_provider_create"),
    path("identity-providers/<int:pk>/", sso.identity_provider_edit, name="identity_provider_edit"),
]
