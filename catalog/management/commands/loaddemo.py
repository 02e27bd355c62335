"""``python manage.py loaddemo``: the course's three products, created once."""

from django.core.management.base import BaseCommand

from catalog.services import products_load_demo


class Command(BaseCommand):
    help = "Create the demo products CATALOG-001..003 if missing (existing rows and stock are left alone)."

    def handle(self, *args, **options):
        created = products_load_demo()
        self.stdout.write(
            f"demo products created: {', '.join(created)}" if created else "demo products already present"
        )
