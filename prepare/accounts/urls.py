from django.urls import path

from prepare.accounts import views

app_name = "accounts"

urlpatterns = [
    path("sign-in/", views.sign_in, name="login"),
    path("sign-out/", views.sign_out, name="logout"),
    path("two-factor/", views.mfa_setup, name="mfa_setup"),
    path("settings/", views.preferences, name="preferences"),
    path("api-tokens/", views.api_tokens, name="api_tokens"),
    path("api-tokens/<int:pk>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/<int:session_id>/end/", views.session_end, name="session_end"),
    path("password/", views.password_change, name="password_change"),
    path("users/<int:user_id>/sessions/", views.user_sessions, name="user_sessions"),
    path("csp-report/", views.csp_report, name="csp_report"),
]
