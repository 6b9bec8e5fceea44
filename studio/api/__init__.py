"""The core's REST API (``/api/v1/``): projects, members, datasets, jobs."""
