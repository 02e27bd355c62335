"""``python manage.py createdemousers``: a demo user and a staff user for trying the API."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

USERS = [
    # username, staff: the demo user's name is the tutorial's userId, so its course route works as is.
    ("8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e", False),
    ("admin", True),
]


class Command(BaseCommand):
    help = (
        "Create the demo user (the tutorial's userId) and a staff user, each with a password and an API "
        "token, and print them. Users that exist are left alone (their credentials are not printed again)."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        for username, staff in USERS:
            if User.objects.filter(username=username).exists():
                self.stdout.write(f"user {username} exists (credentials printed when it was created)")
                continue
            password = secrets.token_urlsafe(12)
            user = User.objects.create_user(username=username, password=password, is_staff=staff, is_superuser=staff)
            token = Token.objects.create(user=user)
            role = "staff, admin" if staff else "demo"
            self.stdout.write(f"user {username} ({role}): password {password}  token {token.key}")
