from django.urls import path

from prepare.accounts import second_factor, staff_views, views
from prepare.accounts.sso import views as sso

app_name = "accounts"

urlpatterns = [
    path("sign-in/", views.sign_in, name="login"),
    path("sign-in/second-factor/", second_factor.second_factor_step, name="second_factor"),
    path("sign-out/", views.sign_out, name="logout"),
    path("two-factor/", views.mfa_setup, name="mfa_setup"),
    path("sign-in-methods/", views.sign_in_methods, name="sign_in_methods"),
    path("sign-in-methods/app/", views.totp_add, name="totp_add"),
    path("sign-in-methods/passkey/", views.passkey_add, name="passkey_add"),
    path(
        "sign-in-methods/app/<int:pk>/remove/",
        views.factor_remove,
        {"kind": "totp"},
        name="totp_remove",
    ),
    path(
        "sign-in-methods/passkey/<int:pk>/remove/",
        views.factor_remove,
        {"kind": "passkey"},
        name="passkey_remove",
    ),
    path("sign-in-methods/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("settings/", views.preferences, name="preferences"),
    path("api-tokens/", views.api_tokens, name="api_tokens"),
    path("api-tokens/<int:pk>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/<int:session_id>/end/", views.session_end, name="session_end"),
    path("password/", views.password_change, name="password_change"),
    path("users/<int:user_id>/sessions/", views.user_sessions, name="user_sessions"),
    path("csp-report/", views.csp_report, name="csp_report"),
    path("enrol/<uuid:link_id>/", staff_views.enrol, name="enrol"),
    path("staff/", staff_views.staff_home, name="staff_home"),
    path("staff/<int:organisation_id>/", staff_views.staff_list, name="staff"),
    path("staff/<int:organisation_id>/invite/", staff_views.staff_invite, name="staff_invite"),
    path("people/<int:account_id>/", staff_views.account, name="account"),
    path("people/<int:account_id>/resend/", staff_views.account_resend, name="account_resend"),
    path(
        "people/<int:account_id>/deactivate/",
        staff_views.account_deactivate,
        name="account_deactivate",
    ),
    path(
        "people/<int:account_id>/reactivate/",
        staff_views.account_reactivate,
        name="account_reactivate",
    ),
    path("people/<int:account_id>/training/", staff_views.training_add, name="training_add"),
    path(
        "people/<int:account_id>/training/<int:training_record_id>/remove/",
        staff_views.training_remove,
        name="training_remove",
    ),
    path("sso/", sso.sso_start, name="sso_start"),
    path("sso/return/", sso.sso_callback, name="sso_callback"),
    path("identity-providers/", sso.identity_providers, name="identity_providers"),
    path("identity-providers/new/", sso.identity_provider_create, name="identity_provider_create"),
    path("identity-providers/<int:pk>/", sso.identity_provider_edit, name="identity_provider_edit"),
]
