from django.urls import path

from reports.api import ConversationRowsApi, MonitorApi, SummaryApi

urlpatterns = [
    path("reports/summary/", SummaryApi.as_view(), name="report-summary"),
    path("reports/conversations/", ConversationRowsApi.as_view(), name="report-conversations"),
    path("monitor/", MonitorApi.as_view(), name="monitor"),
]
