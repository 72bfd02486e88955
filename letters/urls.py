from django.urls import path

from . import views

app_name = "letters"

urlpatterns = [
    path("campaigns/<slug:slug>/", views.campaign, name="campaign"),
    path("campaigns/<slug:slug>/council/", views.council, name="council"),
    path("campaigns/<slug:slug>/write/", views.write, name="write"),
    path("campaigns/<slug:slug>/preview/", views.preview, name="preview"),
    path("campaigns/<slug:slug>/resend/", views.resend, name="resend"),
    path("campaigns/<slug:slug>/thanks/", views.thanks, name="thanks"),
    path("letters/confirm/<str:token>/", views.confirm, name="confirm"),
    path("letters/confirm/<str:token>/resend/", views.confirm_resend, name="confirm_resend"),
    path("letters/<str:token>/", views.status, name="status"),
    path("letters/<str:token>/delete/", views.delete, name="delete"),
]
