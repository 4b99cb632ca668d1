"""ztix web: Falcon app, Jinja2 + HTMX pages, JSON API, local accounts."""
