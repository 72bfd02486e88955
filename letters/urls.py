from django.urls import path

from . import views

app_name = "letters"

# Tokens are URL-safe base64 (letters.models.new_token), which is what <slug:> matches; any
# other character (a NUL byte, say) is a 404 before it reaches the database.

urlpatterns = [
    path("campaigns/<slug:slug>/", views.campaign, name="campaign"),
    path("campaigns/<slug:slug>/council/", views.council, name="council"),
    path("campaigns/<slug:slug>/write/", views.write, name="write"),
    path("campaigns/<slug:slug>/write/live-letter/", views.write_live, name="write_live"),
    path("campaigns/<slug:slug>/preview/", views.preview, name="preview"),
    path("campaigns/<slug:slug>/resend/", views.resend, name="resend"),
    path("campaigns/<slug:slug>/thanks/", views.thanks, name="thanks"),
    path("letters/confirm/<slug:token>/", views.confirm, name="confirm"),
    path("letters/confirm/<slug:token>/resend/", views.confirm_resend, name="confirm_resend"),
    path("letters/<slug:token>/", views.status, name="status"),
    path("letters/<slug:token>/delete/", views.delete, name="delete"),
    path("letters/<slug:token>/reply/", views.reply, name="reply"),
    path("letters/unsubscribe/<str:value>/", views.unsubscribe, name="unsubscribe"),
    path("contacts/<int:representative_id>/report/", views.contact_report, name="contact_report"),
]
