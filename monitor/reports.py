"""Reports as files."""

from __future__ import annotations

import json

from monitor.models import ClarifyJob


def clarify_report_html(clarify: ClarifyJob) -> str:
    return "<pre>" + json.dumps(clarify.report, indent=2) + "</pre>"
