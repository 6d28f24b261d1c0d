"""The Flask application: the JSON API, the web pages, their schemas, errors, headers and serving."""
