"""Data Wrangler: visual data flows, previews, exports and processing jobs."""
