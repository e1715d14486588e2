from django.urls import path

from prepare.accounts import second_factor, views

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
    path("csp-report/", views.csp_report, name="csp_report"),
]
