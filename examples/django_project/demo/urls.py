from django.urls import path

from demo import views

urlpatterns = [
    path("twilio/sms", views.incoming_sms),
    path("health", views.health),
]
