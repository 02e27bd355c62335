"""Reads of the catalog service."""

from __future__ import annotations

from django.db.models import QuerySet

from catalog.models import Product


def product_list() -> QuerySet[Product]:
    return Product.objects.all()
