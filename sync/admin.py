"""The admin's front page: the project's name, and the Sync page linked above the apps."""

from django.contrib import admin

admin.site.site_header = "stocksync admin"
admin.site.site_title = "stocksync"
admin.site.index_template = "admin/stocksync/index.html"  # sync/templates/: a link to sync/views.py
