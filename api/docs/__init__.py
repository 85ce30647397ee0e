"""The API's documentation pages and the browser assets they load from the service
itself (``assets``, ``pages``)."""
