from django.contrib import admin

admin.site.site_header = "stocksync admin"
admin.site.site_title = "stocksync"
# The index with a link to the Sync page (kafka_bridge/views.py) above the apps.
admin.site.index_template = "admin/stocksync/index.html"
